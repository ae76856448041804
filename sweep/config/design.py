"""Designs of experiments: sampled sweeps instead of cartesian grids.

``[sweep] design`` picks how the keys given as *ranges* are explored:

- ``"grid"`` (default): no ranges; every list is a dimension of a cartesian grid.
- ``"sobol"``: a scrambled Sobol' sequence (``scipy.stats.qmc.Sobol``), ``samples`` a power of 2;
- ``"lhs"``: a Latin hypercube (``scipy.stats.qmc.LatinHypercube``);
- ``"random"``: independent uniform draws;
- ``"saltelli"``: the design SALib's Sobol' estimator needs (``SALib.sample.sobol``): ``samples``
  base points (a power of 2) make ``samples * (D + 2)`` scenarios, ``samples * (2D + 2)`` with
  ``second_order = true``, for ``D`` sampled keys;
- ``"morris"``: ``samples`` Morris trajectories of ``D + 1`` points on a grid of ``levels``
  levels (``SALib.sample.morris``), for screening by elementary effects.

Every design is drawn from ``[sweep] seed``: the same config gives the same samples. A key is
sampled when given as a table: ``{min = 1, max = 20}`` (uniform), ``{min = .., max = ..,
scale = "log"}`` (uniform in the logarithm), or ``{choices = [...]}`` (one of the values, equally
likely; rule keys and ``preset`` take only this form). Integer keys (``stake_target_period``,
...) give integers in ``[min, max]``, each equally likely. All sampled keys vary along one
``sample`` dimension of ``n_rows`` scenarios (:attr:`Design.n_rows`); lists keep making grid
dimensions, crossed with the sample.

The design is drawn on the unit hypercube and each column mapped onto its key's range
(:func:`unit_sample`, :meth:`Spec.values`), so ``sweep.sensitivity`` can rebuild the unit design
of a loaded result from its attributes (:meth:`Design.attrs`, :func:`from_attrs`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError

DESIGNS = ("grid", "sobol", "lhs", "random", "saltelli", "morris")
SAMPLED = DESIGNS[1:]
SOBOL_INDEX_DESIGNS = ("saltelli",)  # designs sweep.sensitivity computes Sobol' indices from
SCREENING_DESIGNS = ("morris",)  # designs it computes elementary effects from
POWER_OF_TWO = ("sobol", "saltelli")
SCALES = ("linear", "log")


@dataclass(frozen=True)
class KeyDoc:
    """A ``[sweep]`` key that its own code checks (not a :class:`sweep.config.schema.Param`), as
    the config reference shows it: its type, default, allowed values, units and meaning."""

    kind: str
    default: Any
    allowed: str
    units: str
    doc: str


DESIGN_KEY_DOCS: dict[str, KeyDoc] = {  # [sweep] keys read here (read_settings)
    "design": KeyDoc(
        "string, one value",
        "grid",
        "one of " + ", ".join(f'"{d}"' for d in DESIGNS),
        "",
        "how the keys given as ranges or choices are explored: a grid has none (lists only); "
        "the others sample them along one `sample` dimension",
    ),
    "samples": KeyDoc(
        "integer, one value",
        None,
        ">= 1; a power of 2 for " + " and ".join(POWER_OF_TWO),
        "1",
        "required with a sampled design: its scenarios (saltelli: base points, "
        "samples * (D + 2) scenarios for D sampled keys; morris: trajectories of D + 1 points)",
    ),
    "second_order": KeyDoc(
        "boolean, one value",
        False,
        "true with saltelli only",
        "",
        "saltelli: also the samples second-order Sobol' indices need, samples * (2D + 2) scenarios",
    ),
    "levels": KeyDoc(
        "integer, one value", 4, ">= 2; morris only", "1", "morris: the levels of its grid"
    ),
}
DESIGN_KEYS: dict[str, str] = {key: d.doc for key, d in DESIGN_KEY_DOCS.items()}
SAMPLE_DIM = "sample"
MAX_SAMPLE_ROWS = 10_000_000  # scenarios along ``sample``: the design, its coordinates and the
# plan hold every row in memory before the sweep starts (measured: about 190 bytes a row for 3
# keys); more is a different tool's job
MAX_MORRIS_TRAJECTORIES = 10_000  # SALib draws Morris trajectories one by one in Python (about
# 0.2 ms each, more on a busy machine): 10,000 take seconds, 10**9 would take days
BYTES_PER_DRAWN_VALUE = 64  # measured: ~190 bytes a row of 3 keys, as floats, tuples and labels
MAX_DRAWN_VALUES = 40_000_000  # scenarios x (keys + 1): about 2.4 GiB drawn, at most
SEED_STREAM = 0x5EED  # the design's random stream: (seed, this), apart from the paths'


@dataclass(frozen=True)
class Spec:
    """How one key is sampled: a range (``kind = "range"``) or choices (``"choices"``)."""

    key: str
    section: str
    kind: str  # "range" | "choices"
    value_type: str  # "float" | "int" | "str"
    low: float | int | None = None
    high: float | int | None = None
    scale: str = "linear"
    choices: tuple = ()

    def values(self, u: np.ndarray) -> tuple:
        """The key's values at unit-hypercube coordinates ``u`` (in [0, 1])."""
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        if self.kind == "choices":
            index = np.minimum((u * len(self.choices)).astype(np.int64), len(self.choices) - 1)
            return tuple(self.choices[int(i)] for i in index)
        low, high = float(self.low), float(self.high)
        if self.value_type == "int":
            # integers in [low, high], equally likely: cut [low, high + 1) and floor
            top = high + 1.0
            x = (
                np.exp(math.log(low) + u * (math.log(top) - math.log(low)))
                if self.scale == "log"
                else low + u * (top - low)
            )
            out = np.clip(np.floor(x), low, high).astype(np.int64)
            return tuple(int(v) for v in out)
        if self.scale == "log":
            x = np.exp(math.log(low) + u * (math.log(high) - math.log(low)))
        else:
            x = low + u * (high - low)
        return tuple(float(v) for v in np.clip(x, low, high))

    def describe_value(self) -> dict[str, Any]:
        """The spec as a config gives it (for error messages)."""
        if self.kind == "choices":
            return {"choices": list(self.choices)}
        out: dict[str, Any] = {"min": self.low, "max": self.high}
        if self.scale != "linear":
            out["scale"] = self.scale
        return out

    def describe(self) -> dict[str, Any]:
        if self.kind == "choices":
            return {"key": self.key, "section": self.section, "choices": list(self.choices)}
        return {
            "key": self.key, "section": self.section, "min": self.low, "max": self.high,
            "scale": self.scale, "integer": self.value_type == "int",
        }  # fmt: skip


@dataclass(frozen=True)
class Settings:
    """``[sweep] design``, ``samples``, ``second_order`` and ``levels``, checked."""

    design: str = "grid"
    samples: int | None = None
    second_order: bool = False
    levels: int = 4

    @property
    def sampled(self) -> bool:
        return self.design != "grid"


@dataclass(frozen=True)
class Design:
    """A sampled design: its kind, the sampled keys (in config order) and its size."""

    kind: str
    samples: int  # [sweep] samples: points, base points (saltelli) or trajectories (morris)
    specs: tuple[Spec, ...]
    seed: int
    second_order: bool = False
    levels: int = 4

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.specs)

    @property
    def n_rows(self) -> int:
        """Scenarios along the ``sample`` dimension."""
        return n_rows(self.kind, self.samples, len(self.specs), self.second_order)

    def unit(self) -> np.ndarray:
        """The design on the unit hypercube: (n_rows, D)."""
        return unit_sample(
            self.kind, self.samples, len(self.specs), self.seed, self.second_order, self.levels
        )

    def columns(self) -> dict[str, tuple]:
        """Each sampled key's value in each row of the design."""
        unit = self.unit()
        return {s.key: s.values(unit[:, j]) for j, s in enumerate(self.specs)}

    def placeholder_columns(self) -> dict[str, tuple]:
        """Each sampled key at the middle of its range in every row: the design's shape
        without drawing it (``--dry-run`` sizes a sweep at once, whatever its design)."""
        middle = np.full(1, 0.5)
        return {s.key: s.values(middle) * self.n_rows for s in self.specs}

    def attrs(self) -> dict[str, Any]:
        """What a result keeps of its design (``sweep.sensitivity`` reads it back)."""
        return {
            "design": self.kind,
            "design_samples": self.samples,
            "design_parameters": json.dumps([s.describe() for s in self.specs]),
            "design_seed": self.seed,
            "design_second_order": int(self.second_order),
            "design_levels": self.levels,
        }


def n_rows(kind: str, samples: int, d: int, second_order: bool = False) -> int:
    if kind == "saltelli":
        return samples * (2 * d + 2 if second_order else d + 2)
    if kind == "morris":
        return samples * (d + 1)
    return samples


def _problem(d: int) -> dict[str, Any]:
    return {"num_vars": d, "names": [f"x{j}" for j in range(d)], "bounds": [[0.0, 1.0]] * d}


def unit_sample(
    kind: str, samples: int, d: int, seed: int, second_order: bool = False, levels: int = 4
) -> np.ndarray:
    """``kind``'s design of ``d`` keys on the unit hypercube, drawn from ``seed``."""
    rng = np.random.default_rng([seed, SEED_STREAM])
    if kind == "sobol":
        from scipy.stats import qmc

        return qmc.Sobol(d, scramble=True, rng=rng).random_base2(int(math.log2(samples)))
    if kind == "lhs":
        from scipy.stats import qmc

        return qmc.LatinHypercube(d, rng=rng).random(samples)
    if kind == "random":
        return rng.random((samples, d))
    if kind == "saltelli":
        from SALib.sample import sobol

        return sobol.sample(_problem(d), samples, calc_second_order=second_order, seed=rng)
    if kind == "morris":
        from SALib.sample import morris

        return morris.sample(_problem(d), samples, num_levels=levels, seed=int(seed))
    raise ValueError(f"not a sampled design: {kind!r}")


# --- reading the config ---------------------------------------------------------------------
def read_settings(sweep: Mapping[str, Any]) -> Settings:
    """Check ``[sweep] design``, ``samples``, ``second_order`` and ``levels``."""
    design = sweep.get("design", "grid")
    if not isinstance(design, str) or design not in DESIGNS:
        raise ConfigError(
            "[sweep] design", design, f"must be one of {', '.join(map(repr, DESIGNS))}"
        )
    samples = sweep.get("samples")
    if samples is not None:
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise ConfigError("[sweep] samples", samples, "must be an integer >= 1")
        if design == "grid":
            raise ConfigError(
                "[sweep] samples", samples,
                "needs a sampled design: set [sweep] design = "
                + ", ".join(map(repr, SAMPLED)) + " (a grid's size is its lists')",
            )  # fmt: skip
        if design in POWER_OF_TWO and samples & (samples - 1):
            low = 1 << (samples.bit_length() - 1)
            raise ConfigError(
                "[sweep] samples", samples,
                f"a {'Sobol' if design == 'sobol' else 'Saltelli'}' design needs a power of 2 "
                f"(its sequence is balanced only there): use {low} or {2 * low}",
            )  # fmt: skip
    elif design != "grid":
        raise ConfigError("[sweep] samples", None, f"is required with design = {design!r}")
    second_order = sweep.get("second_order", False)
    if not isinstance(second_order, bool):
        raise ConfigError("[sweep] second_order", second_order, "must be true or false")
    if second_order and design != "saltelli":
        raise ConfigError(
            "[sweep] second_order", second_order, "applies to design = 'saltelli' only"
        )
    levels = sweep.get("levels", 4)
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2:
        raise ConfigError("[sweep] levels", levels, "must be an integer >= 2")
    if "levels" in sweep and design != "morris":
        raise ConfigError("[sweep] levels", levels, "applies to design = 'morris' only")
    if levels % 2:
        # SALib only warns (its file's path in a raw UserWarning) and draws a biased design
        raise ConfigError(
            "[sweep] levels",
            levels,
            "must be even: a Morris design's step of levels / (2 (levels - 1)) visits every "
            f"level equally often only then; use {levels - 1 if levels > 2 else 2} or "
            f"{levels + 1}",
        )
    return Settings(design, samples, second_order, levels)


RANGE_KEYS = ("min", "max", "scale")


def read_spec(
    section: str, key: str, table: Mapping[str, Any], kind: type,
    coerce: Callable[[str, Any], Any],
) -> Spec:  # fmt: skip
    """A sampled key: ``{min, max[, scale]}`` or ``{choices = [...]}``; ``coerce(where, x)``
    checks one value as the key itself would be checked."""
    where = f"[{section}] {key}"
    table = dict(table)
    value_type = {float: "float", int: "int", str: "str"}[kind]
    if "choices" in table:
        extra = [k for k in table if k != "choices"]
        if extra:
            raise ConfigError(
                f"{where} {extra[0]}", table[extra[0]], "give either choices or a range, not both"
            )
        choices = table["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(where, table, "choices must be a non-empty list of values")
        values = tuple(coerce(f"{where} choices", c) for c in choices)
        if len(set(values)) != len(values):
            raise ConfigError(where, table, "choices lists the same value twice")
        return Spec(key, section, "choices", value_type, choices=values)
    unknown = [k for k in table if k not in RANGE_KEYS]
    if unknown:
        raise ConfigError(
            f"{where} {unknown[0]}", table[unknown[0]],
            "unknown key of a sampled value; give {min, max[, scale]} or {choices = [...]}",
        )  # fmt: skip
    if kind is str:
        raise ConfigError(where, table, "a rule is sampled from {choices = [...]}, not a range")
    for bound in ("min", "max"):
        if bound not in table:
            raise ConfigError(where, table, f"a range needs {bound} (give {{min, max}})")
    low = coerce(f"{where} min", table["min"])
    high = coerce(f"{where} max", table["max"])
    if not low < high:
        raise ConfigError(where, table, f"min ({low}) must be < max ({high})")
    scale = table.get("scale", "linear")
    if scale not in SCALES:
        raise ConfigError(f"{where} scale", scale, f"must be one of {', '.join(map(repr, SCALES))}")
    if scale == "log" and low <= 0:
        raise ConfigError(where, table, f"a log scale needs min > 0, not {low}")
    return Spec(key, section, "range", value_type, low, high, scale)


def make_design(settings: Settings, specs: list[Spec], seed: int) -> Design | None:
    """The design of a config's sampled keys (``specs``, in config order); None for a grid."""
    if not settings.sampled:
        if specs:
            spec = specs[0]
            raise ConfigError(
                f"[{spec.section}] {spec.key}", spec.describe_value(),
                "a range or choices needs a sampled design: set [sweep] design = "
                + ", ".join(map(repr, SAMPLED)) + " and samples = N, or give a list of values",
            )  # fmt: skip
        return None
    if not specs:
        raise ConfigError(
            "[sweep] design", settings.design,
            "samples keys given as ranges ({min, max}) or {choices = [...]}, but none is",
        )  # fmt: skip
    assert settings.samples is not None
    check_size(settings, len(specs))
    return Design(
        settings.design, settings.samples, tuple(specs), seed, settings.second_order,
        settings.levels,
    )  # fmt: skip


def check_size(settings: Settings, d: int) -> None:
    """Refuse, from its counts alone, a design too large to draw: drawing it would end in a
    MemoryError deep in numpy, or keep SALib busy for days, before any other check."""
    assert settings.samples is not None
    kind, samples = settings.design, settings.samples
    rows = n_rows(kind, samples, d, settings.second_order)
    what = f"a {kind} design of {samples:,} {'trajectories' if kind == 'morris' else 'samples'}"
    if kind in ("saltelli", "morris"):
        what += f" of {d} keys makes {rows:,} scenarios"
    if kind == "morris" and samples > MAX_MORRIS_TRAJECTORIES:
        raise ConfigError(
            "[sweep] samples",
            samples,
            f"{what}: at most {MAX_MORRIS_TRAJECTORIES:,} Morris trajectories are drawn (SALib "
            "draws them one at a time; screening needs tens to hundreds)",
        )
    need = rows * (d + 1) * BYTES_PER_DRAWN_VALUE
    if rows > MAX_SAMPLE_ROWS or rows * (d + 1) > MAX_DRAWN_VALUES:
        raise ConfigError(
            "[sweep] samples",
            samples,
            f"{what}: drawing it would take about {_gib(need)} of memory before the sweep "
            f"starts; at most {MAX_SAMPLE_ROWS:,} scenarios along `sample` (and "
            f"{MAX_DRAWN_VALUES:,} drawn values: scenarios x (keys + 1))",
        )


def _gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB"


# --- reading a result back -------------------------------------------------------------------
def from_attrs(attrs: Mapping[str, Any]) -> Design | None:
    """The design a result was sampled with (its attributes), or None for a grid."""
    kind = attrs.get("design")
    if kind is None or kind == "grid":
        return None
    described = json.loads(attrs["design_parameters"])
    specs = []
    for s in described:
        if "choices" in s:
            choices = tuple(s["choices"])
            value_type = (
                "str" if all(isinstance(c, str) for c in choices)
                else "int" if all(isinstance(c, int) for c in choices) else "float"
            )  # fmt: skip
            specs.append(Spec(s["key"], s["section"], "choices", value_type, choices=choices))
        else:
            value_type = "int" if s.get("integer") else "float"
            specs.append(
                Spec(s["key"], s["section"], "range", value_type, s["min"], s["max"], s["scale"])
            )
    return Design(
        str(kind), int(attrs["design_samples"]), tuple(specs), int(attrs["design_seed"]),
        bool(int(attrs.get("design_second_order", 0))), int(attrs.get("design_levels", 4)),
    )  # fmt: skip
