"""Read and check a sweep configuration (TOML file or dict) before any work starts.

Every check here raises :class:`~sweep.errors.ConfigError` naming the key and the value, so a
bad config never produces a half-written result. The checked config is a
:class:`~sweep.config.model.Config`: plain values with defaults filled in, plus the sweep
dimensions (every list under ``[network]``, ``[risk]``, ``[market]``, ``[mechanism]``, ``[sla]``
and ``[path]``) in config order. The keys, their ranges and the limits are declared in
:mod:`sweep.config.schema`; the ``[[lp]]`` tables are read by :mod:`sweep.config.lps`; checks
across keys are in :mod:`sweep.config.checks`.

``[mechanism] preset`` (:data:`sweep.mechanism.presets.PRESETS`) fills in the keys it sets that
the config does not give itself (explicit keys win). A list of presets is a ``preset``
dimension: the keys on which the listed presets differ follow it (see
:attr:`Config.preset_values`).

With ``[sweep] design`` a sampled design (:mod:`sweep.config.design`), keys given as ranges
(``{min, max}``) or ``{choices = [...]}`` are sampled along one ``sample`` dimension: they follow
it as preset keys follow ``preset`` (:attr:`Config.follows`).

A config file must be UTF-8; ``fee_rate`` needs ``fee_rule = "given"`` in play.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..mechanism.presets import PRESETS
from .checks import _check_strategy, check_risk, check_sla_keys
from .design import DESIGN_KEYS, SAMPLE_DIM, Design, Spec, make_design, read_settings, read_spec
from .lps import _lps
from .model import Config, Dimension, dim_name, values_in_play
from .schema import (
    PARAMS,
    PATH_KINDS,
    PATH_PARAMS,
    PATH_SERIES,
    SECTION_OF,
    SWEEP_KEYS,
    SWEPT_SECTIONS,
    TOP_KEYS,
    Param,
    _choose,
    _coerce,
    _is_number,
    _known_table,
    _name,
    _series,
    _table,
    _unknown,
)


def toml_text(data: Mapping[str, Any]) -> str:
    """``data`` (a config given as a dict) as TOML text, stored in each result.

    Written by tomli-w, after numpy scalars and arrays become the Python numbers and lists they
    hold (``np.float64(1.0)`` is ``1.0``), tuples lists and paths strings: the text reads back
    (``tomllib``) as the config given, whatever characters its strings hold.
    """
    import tomli_w

    return tomli_w.dumps(_plain(data))


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars, arrays, tuples and paths as plain TOML-able values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return _plain(value.tolist())  # a numpy scalar (.tolist() is .item()) or an array
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def load_config(config: str | Path | Mapping[str, Any], *, draw: bool = True) -> Config:
    """Read a TOML path or a dict of the same shape, check it, and fill in defaults (a
    :class:`Config` is returned as it is: it was checked when it was made).

    ``draw=False`` sizes a sampled design without drawing it (every sampled key at the middle
    of its range): what ``--dry-run`` needs, at once whatever the design. Such a config is for
    describing a sweep, never for running it."""
    base_dir = Path(".")
    if isinstance(config, Config):
        return config
    if isinstance(config, Mapping):
        raw = _plain(config)  # numpy's numbers and arrays as TOML's, the caller's dict kept
        text = None
    else:
        path = Path(config)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(
                "config file", str(path), f"cannot be read ({exc.strerror})"
            ) from None
        try:
            text = data.decode("utf-8")  # TOML is UTF-8, whatever the locale
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise ConfigError(
                "config file",
                str(path),
                f"is not UTF-8 text (byte 0x{data[exc.start]:02x} on "
                f"line {line}); TOML files must be UTF-8",
            ) from None
        try:
            raw = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, ValueError) as exc:
            # ValueError: an integer too long for Python to read (over 4300 digits)
            raise ConfigError("config file", str(path), f"is not valid TOML ({exc})") from None
        base_dir = path.resolve().parent
        raw.setdefault("name", path.stem)
    return _check(raw, text, base_dir, draw=draw)


def _param(section: str, key: str, value: Any, spec: Param) -> Any:
    """A scalar, a tuple of values when the key is swept (a non-empty list), or a
    :class:`~sweep.config.design.Spec` when it is sampled (a table: a range or choices)."""
    where = f"[{section}] {key}"
    if isinstance(value, Mapping):
        if not spec.sweepable:
            raise ConfigError(where, dict(value), "cannot be sampled; give one value")
        return read_spec(section, key, value, spec.kind, lambda w, x: _coerce(w, x, spec))
    if isinstance(value, list):
        if not spec.sweepable:
            raise ConfigError(where, value, "cannot be swept; give one value")
        if not value:
            raise ConfigError(where, value, "an empty list sweeps nothing; give values")
        values = tuple(_coerce(where, v, spec) for v in value)
        if len(set(values)) != len(values):
            raise ConfigError(where, value, "lists the same value twice")
        return values
    return _coerce(where, value, spec)


def _check(raw: dict, text: str | None, base_dir: Path, *, draw: bool = True) -> Config:
    _unknown("", raw, TOP_KEYS)
    name = _name(raw.get("name", "sweep"))

    dims: list[Dimension] = []
    order = [k for k in raw if k in SWEPT_SECTIONS]

    sweep = _known_table("[sweep]", raw.get("sweep", {}), (*SWEEP_KEYS, "variables", *DESIGN_KEYS))
    design_settings = read_settings(sweep)
    sweep_vals = {k: _param("sweep", k, sweep.get(k, p.default), p) for k, p in SWEEP_KEYS.items()}
    variables = _variables(sweep.get("variables", "all"))

    params: dict[str, Any] = {}
    fee_rate = None
    section_values: dict[str, dict[str, Any]] = {}
    for section, specs in PARAMS.items():
        known = (*specs, "fee_rate") if section == "mechanism" else tuple(specs)
        table = _known_table(f"[{section}]", raw.get(section, {}), known)
        values = {k: _param(section, k, table.get(k, p.default), p) for k, p in specs.items()}
        section_values[section] = {k: table[k] for k in table if k in specs}
        params.update(values)
        if section == "mechanism" and "fee_rate" in table:
            fr = table["fee_rate"]
            if _is_number(fr):
                fee_rate = _series("[mechanism] fee_rate", [fr])
            else:
                fee_rate = _series("[mechanism] fee_rate", fr)

    path_table = _table("[path]", raw.get("path", {}))
    kind = path_table.get("kind", "gbm")
    _choose("[path] kind", kind, PATH_KINDS)
    path_specs = PATH_PARAMS[kind]
    extra = ("columns",) if kind == "csv" else PATH_SERIES if kind == "table" else ()
    _unknown("[path]", path_table, ("kind", *path_specs, *extra))
    path_params = {
        k: _param("path", k, path_table.get(k, p.default), p)
        for k, p in path_specs.items()
        if k in path_table or p.default is not None
    }
    path_data: dict[str, Any] = {}
    if kind == "table":
        for key in PATH_SERIES:
            if key in path_table:
                path_data[key] = _series(f"[path] {key}", path_table[key])
        for key in ("mark_price", "traded_volume"):
            if key not in path_data:
                raise ConfigError("[path] " + key, None, "is required for kind = 'table'")
        lengths = {k: len(v) for k, v in path_data.items()}
        if len(set(lengths.values())) != 1:
            raise ConfigError("[path]", lengths, "table series must have the same length")
    if kind == "csv":
        if "file" not in path_table:
            raise ConfigError("[path] file", None, "is required for kind = 'csv'")
        columns = _known_table("[path] columns", path_table.get("columns", {}), PATH_SERIES)
        for key, col in columns.items():
            if not isinstance(col, str):
                raise ConfigError(f"[path] columns.{key}", col, "must be a column name")
        path_data["columns"] = {"mark_price": "Close", "traded_volume": "Volume", **columns}

    explicit = {key for values in section_values.values() for key in values}
    design, follows = _sample(design_settings, order, section_values, path_table, params,
                              path_params, sweep_vals["seed"], draw)  # fmt: skip
    follows.update(_apply_presets(params, explicit, follows))
    sampled = set(design.names) if design else set()

    # sweep dimensions, in the order the config names them
    for section in order:
        table = path_table if section == "path" else section_values[section]
        for key in table:
            if key in sampled:  # the sample dimension stands where the first sampled key is
                if design and all(d.name != SAMPLE_DIM for d in dims):
                    dims.append(Dimension(SAMPLE_DIM, "sweep", SAMPLE_DIM,
                                          tuple(range(design.n_rows))))  # fmt: skip
                continue
            value = path_params.get(key) if section == "path" else params.get(key)
            if isinstance(value, tuple):
                dim = dim_name(section, key)
                dims.append(Dimension(dim, section, key, value))

    if "given" in values_in_play(params["fee_rule"]) and fee_rate is None:
        raise ConfigError(
            "[mechanism] fee_rate", None, "is required when fee_rule is 'given' (a per-day series)"
        )
    if fee_rate is not None and "given" not in values_in_play(params["fee_rule"]):
        raise ConfigError(
            "[mechanism] fee_rate",
            list(fee_rate),
            "is read only by fee_rule = 'given', which is not in play (fee_rule = "
            f"{params['fee_rule']!r}): set fee_rule = 'given' (or list it) or drop fee_rate",
        )
    check_sla_keys(params, section_values["sla"])
    check_risk(params)

    lps = _lps(raw.get("lp", []))
    _check_strategy(params, follows, section_values["strategy"], lps)
    if text is None:
        text = toml_text(raw)
    return Config(
        name=name,
        days=sweep_vals["days"],
        paths=sweep_vals["paths"],
        seed=sweep_vals["seed"],
        variables=variables,
        reduce=sweep_vals["reduce"],
        chunk_size=sweep_vals["chunk_size"],
        dtype=sweep_vals["dtype"],
        compression=sweep_vals["compression"],
        path_kind=kind,
        path_params=path_params,
        path_data=path_data,
        params=params,
        fee_rate=fee_rate,
        lps=lps,
        dims=tuple(dims),
        toml=text,
        base_dir=base_dir,
        follows=follows,
        design=design,
    )


def _preset_value(name: str, key: str) -> Any:
    """Preset ``name``'s value of ``key`` (the key's default where it sets none), checked."""
    section = SECTION_OF.get(key)
    if section is None:
        raise ConfigError(
            "[mechanism] preset",
            name,
            f"sets {key} = {PRESETS[name][key]!r}, which is not a config key",
        )
    spec = PARAMS[section][key]
    value = PRESETS[name].get(key, spec.default)
    try:
        return _coerce(f"[{section}] {key}", value, spec)
    except ConfigError as exc:
        raise ConfigError(
            "[mechanism] preset", name, f"sets {key} = {value!r}, which {exc.reason}"
        ) from None


def _apply_presets(
    params: dict[str, Any], explicit: set[str], follows: dict[str, tuple[str, tuple]]
) -> dict[str, tuple[str, tuple]]:
    """Fill the keys the preset(s) set that the config does not give (``explicit``) into
    ``params``; return the keys that follow the presets' dimension (:attr:`Config.follows`):
    ``preset`` for a list of presets, ``sample`` for sampled presets (``follows["preset"]``).

    Every value a listed preset sets is checked as the key itself would be, given or not.
    """
    names = values_in_play(params["preset"])
    for name in names:
        for key in PRESETS[name]:
            _preset_value(name, key)
    dim, along = follows.get("preset", ("preset", names))  # the preset at each index of dim
    keys = dict.fromkeys(key for name in names for key in PRESETS[name])
    out: dict[str, tuple[str, tuple]] = {}
    for key in keys:
        if key in explicit:
            continue
        value_of = {name: _preset_value(name, key) for name in names}
        per_index = tuple(value_of[name] for name in along)
        distinct = tuple(dict.fromkeys(per_index))
        if len(distinct) == 1:
            params[key] = distinct[0]
        else:
            out[key] = (dim, per_index)
            params[key] = distinct
    return out


def _sample(
    settings: Any, order: list[str], section_values: dict[str, dict[str, Any]],
    path_table: dict[str, Any], params: dict[str, Any], path_params: dict[str, Any], seed: int,
    draw: bool = True,
) -> tuple[Design | None, dict[str, tuple[str, tuple]]]:  # fmt: skip
    """Draw the design of the keys given as ranges or choices (in config order) and put each
    key's values in play into ``params``/``path_params``; return the design and the keys that
    follow its ``sample`` dimension."""
    specs: list[Spec] = []
    for section in order:
        values = path_params if section == "path" else params
        for key in path_table if section == "path" else section_values[section]:
            if isinstance(values.get(key), Spec):
                specs.append(values[key])
    design = make_design(settings, specs, seed)
    follows: dict[str, tuple[str, tuple]] = {}
    if design is None:
        return None, follows
    columns = design.columns() if draw else design.placeholder_columns()
    for key, column in columns.items():
        values = path_params if key in path_params and key not in params else params
        values[key] = tuple(dict.fromkeys(column))
        follows[key] = (SAMPLE_DIM, column)
    return design, follows


def _variables(value: Any) -> tuple[str, ...] | None:
    from ..mechanism.variables import OUTPUTS

    if value == "all":
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError("[sweep] variables", value, "must be 'all' or a list of output names")
    for v in value:
        if v not in OUTPUTS:
            raise ConfigError(
                "[sweep] variables", v, f"is not an output; outputs: {', '.join(OUTPUTS)}"
            )
    return tuple(dict.fromkeys(value))
