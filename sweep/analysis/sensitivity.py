"""Global sensitivity of a sampled sweep: Sobol' indices and Morris elementary effects.

``sensitivity(ds, output)`` reads the design a result was sampled with from its attributes
(``sweep.config.design``), so it works on a result in memory or loaded from a file:

- ``design = "saltelli"``: first-order (``S1``) and total (``ST``) Sobol' indices, with the
  half-widths of their bootstrap confidence intervals (``S1_conf``, ``ST_conf``), and with
  ``second_order = true`` the second-order indices ``S2`` (``SALib.analyze.sobol``);
- ``design = "morris"``: Morris elementary effects for screening: ``mu``, ``mu_star`` (the mean
  absolute effect, with ``mu_star_conf``) and ``sigma`` (``SALib.analyze.morris``). Effects are
  per unit of each parameter's range (the design's unit hypercube): comparable between
  parameters.

The output is one number per scenario: a per-day output is reduced over days by ``stat``
(``"mean"``, ``"final"``, ``"min"`` or ``"max"``; a summary result, ``reduce = "summary"``,
already holds these), per-epoch outputs over epochs likewise, and Monte Carlo paths by their
mean. ``under_supplied_share`` (the share of days under-supplied) is the mean of
``under_supplied`` over days in a per-day result. Indices are computed for each LP of a per-LP
output and for each point of any grid dimension crossed with the sample.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import xarray as xr

from ..config.design import SAMPLE_DIM, SCREENING_DESIGNS, SOBOL_INDEX_DESIGNS, Design, from_attrs
from ..errors import ConfigError, PartialResultWarning
from ..mechanism.variables import DAY_SHARES, SHARE_OF
from ..storage import PARTIAL_ATTR, check_result_path, load, partial_note

STATS = ("mean", "final", "min", "max")
SOBOL_VARIABLES = ("S1", "S1_conf", "ST", "ST_conf")
MORRIS_VARIABLES = ("mu", "mu_star", "mu_star_conf", "sigma")
MAX_RESAMPLES = 1_000_000  # bootstrap resamples: more only costs time, not precision


def design_of(ds: xr.Dataset) -> Design | None:
    """The sampled design of a result (None for a grid)."""
    return from_attrs(ds.attrs)


def reduce_output(ds: xr.Dataset, output: str, stat: str = "mean") -> xr.DataArray:
    """``output`` as one number per scenario: over days (and epochs) by ``stat``, over Monte
    Carlo paths by the mean. Keeps ``sample``, ``lp`` and grid dimensions."""
    if stat not in STATS:
        raise ConfigError("stat", stat, f"must be one of {', '.join(map(repr, STATS))}")
    if output in ds.data_vars:
        da = ds[output]
    elif output in SHARE_OF and SHARE_OF[output] in ds.data_vars:
        source = SHARE_OF[output]
        if "day" not in ds[source].dims:
            raise ConfigError("output", output, f"needs {source} per day")
        da = ds[source].astype(float).mean("day")
        share = DAY_SHARES[source]
        da.attrs = {"units": share.units, "long_name": share.long_name}
    else:
        outputs = [str(n) for n in ds.data_vars if SAMPLE_DIM in ds[n].dims]
        outputs += [DAY_SHARES[n].name for n in outputs if n in DAY_SHARES]
        outputs = list(dict.fromkeys(outputs))
        raise ConfigError(
            "output", output, f"is not an output of this result; outputs: {', '.join(outputs)}"
        )
    attrs = dict(da.attrs)
    if da.dtype == bool:
        da = da.astype(float)
    for dim in ("day", "epoch"):
        if dim in da.dims:
            if stat == "final":
                da = da.isel({dim: -1})
            else:
                da = getattr(da, stat)(dim)
    if "stat" in da.dims:
        da = da.sel(stat=stat, drop=True)
    if "path" in da.dims:
        da = da.mean("path")
    da.attrs = attrs
    return da


def _check_design(ds: xr.Dataset, kinds: tuple[str, ...]) -> Design:
    design = design_of(ds)
    wanted = " or ".join(repr(k) for k in kinds)
    if design is None:
        raise ConfigError(
            "sensitivity", "design = 'grid'",
            f"needs a result sampled for it: [sweep] design = {wanted} (Sobol' indices: "
            "'saltelli'; Morris elementary effects: 'morris'), with keys given as ranges",
        )  # fmt: skip
    if design.kind not in kinds:
        raise ConfigError(
            "sensitivity", f"design = {design.kind!r}",
            f"needs a result sampled for it: Sobol' indices need [sweep] design = 'saltelli', "
            f"Morris elementary effects design = 'morris'; a {design.kind!r} design has "
            "neither structure",
        )  # fmt: skip
    return design


def sensitivity(
    ds: xr.Dataset | str | os.PathLike,
    output: str,
    stat: str = "mean",
    *,
    conf_level: float = 0.95,
    num_resamples: int = 100,
    seed: int | None = None,
) -> xr.Dataset:
    """Sensitivity indices of ``output`` to each sampled parameter of a sampled sweep.

    ``ds`` is a result (or the path of a result file) sampled with ``[sweep] design =
    "saltelli"`` (Sobol' indices ``S1``, ``S1_conf``, ``ST``, ``ST_conf``, and ``S2``/``S2_conf``
    with ``second_order = true``) or ``"morris"`` (``mu``, ``mu_star``, ``mu_star_conf``,
    ``sigma``), along a ``parameter`` dimension, plus ``lp`` for per-LP outputs and any grid
    dimension crossed with the sample. ``stat`` reduces per-day outputs over days; paths are
    averaged. Confidence intervals are bootstrap intervals at ``conf_level``, drawn from
    ``seed`` (default: the design's). An output that no sampled parameter moves gets indices 0.

    Parameters
    ----------
    ds : xarray.Dataset, str or os.PathLike
        A result sampled with ``design = "saltelli"`` or ``"morris"``, or its file's path.
    output : str
        The result variable (or ``under_supplied_share``) whose sensitivity is wanted.
    stat : str, default "mean"
        How a per-day output is reduced over days: ``mean``, ``final``, ``min`` or ``max``.
    conf_level : float, default 0.95
        Level of the bootstrap confidence intervals, in (0, 1).
    num_resamples : int, default 100
        Bootstrap resamples behind each interval.
    seed : int, optional
        Seed of the bootstrap (default: the design's seed).

    Returns
    -------
    xarray.Dataset
        The indices along a ``parameter`` dimension (the sampled keys), plus ``lp`` for a
        per-LP output and any grid dimension crossed with the sample.
    """

    if not isinstance(ds, xr.Dataset):
        ds = load(check_result_path(ds, "ds"))
    if not isinstance(output, str):
        raise ConfigError("output", output, "must be the name of an output (a str)")
    if not isinstance(stat, str):
        raise ConfigError("stat", stat, f"must be one of {', '.join(map(repr, STATS))}")
    if (
        isinstance(conf_level, bool)
        or not isinstance(conf_level, int | float | np.number)
        or not 0 < conf_level < 1
    ):
        raise ConfigError("conf_level", conf_level, "must be a number in (0, 1)")
    if (
        isinstance(num_resamples, bool)
        or not isinstance(num_resamples, int | np.integer)
        or not 1 <= num_resamples <= MAX_RESAMPLES
    ):
        raise ConfigError(
            "num_resamples",
            num_resamples,
            f"must be an integer between 1 and {MAX_RESAMPLES:,} (bootstrap resamples)",
        )
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**64
    ):
        raise ConfigError("seed", seed, "must be an integer in [0, 2**64) or None")
    design = _check_design(ds, SOBOL_INDEX_DESIGNS + SCREENING_DESIGNS)
    unfinished = partial_note(ds)
    if unfinished:
        warnings.warn(
            f"sensitivity from {unfinished}: the indices come from the chunks done so far",
            PartialResultWarning,
            stacklevel=2,
        )
    da = reduce_output(ds, output, stat)
    if SAMPLE_DIM in da.dims and da.sizes[SAMPLE_DIM] != design.n_rows:
        raise ConfigError(
            "sensitivity", f"{da.sizes[SAMPLE_DIM]} samples",
            f"the {design.kind} design has {design.n_rows}: use the whole sample dimension",
        )  # fmt: skip
    others = [str(d) for d in da.dims if d != SAMPLE_DIM]
    if SAMPLE_DIM in da.dims:
        values = da.transpose(*others, SAMPLE_DIM).values.reshape(-1, design.n_rows)
    else:  # depends on no sampled parameter: the same in every sample
        values = np.repeat(da.values.reshape(-1, 1), design.n_rows, axis=1)
    seed = design.seed if seed is None else seed
    # the bootstrap's stream; never 0, which SALib's Sobol' analysis takes as "unseeded"
    seed = int(np.random.SeedSequence([seed, 0xB007]).generate_state(1)[0]) or 1
    names = list(design.names)
    d = len(names)
    problem = {"num_vars": d, "names": names, "bounds": [[0.0, 1.0]] * d}
    sobol = design.kind in SOBOL_INDEX_DESIGNS
    keys = SOBOL_VARIABLES if sobol else MORRIS_VARIABLES
    second = sobol and design.second_order
    out = {k: np.zeros((len(values), d)) for k in keys}
    if second:
        out.update(
            S2=np.full((len(values), d, d), np.nan), S2_conf=np.full((len(values), d, d), np.nan)
        )
    unit = None if sobol else design.unit()
    for row, y in enumerate(values):
        y = np.asarray(y, dtype=float)
        if np.all(y == y[0]):  # nothing moves it: no parameter matters
            continue
        result = _analyze(design, problem, unit, y, conf_level, num_resamples, seed)
        for k in keys:
            out[k][row] = result[k]
        if second:
            out["S2"][row], out["S2_conf"][row] = result["S2"], result["S2_conf"]
    shape = tuple(da.sizes[o] for o in others)
    coords: dict[str, Any] = {"parameter": ("parameter", names)}
    for o in others:
        if o in da.coords:
            coords[o] = (o, da[o].values, dict(da[o].attrs))
    data_vars = {}
    long_names = {
        "S1": "first-order Sobol' index", "S1_conf": "confidence half-width of S1",
        "ST": "total Sobol' index", "ST_conf": "confidence half-width of ST",
        "mu": "mean elementary effect (per unit of the parameter's range)",
        "mu_star": "mean absolute elementary effect (per unit of the parameter's range)",
        "mu_star_conf": "confidence half-width of mu_star",
        "sigma": "standard deviation of the elementary effects",
        "S2": "second-order Sobol' index", "S2_conf": "confidence half-width of S2",
    }  # fmt: skip
    for k, arr in out.items():
        if k.startswith("S2"):
            arr = arr.reshape(shape + (d, d))
            arr = np.moveaxis(np.moveaxis(arr, -2, 0), -1, 1)
            dims = ("parameter", "parameter_2", *others)
            coords["parameter_2"] = ("parameter_2", names)
        else:
            arr = np.moveaxis(arr.reshape(shape + (d,)), -1, 0)
            dims = ("parameter", *others)
        data_vars[k] = (dims, arr, {"long_name": long_names[k]})
    attrs = {
        "output": output, "stat": stat, "design": design.kind, "samples": design.samples,
        "scenarios": design.n_rows, "conf_level": conf_level,
        "second_order": int(design.second_order),
        "output_long_name": str(da.attrs.get("long_name", output)),
        "output_units": str(da.attrs.get("units", "")),
    }  # fmt: skip
    if unfinished:
        attrs[PARTIAL_ATTR] = unfinished
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def _analyze(
    design: Design, problem: dict, unit: np.ndarray | None, y: np.ndarray, conf_level: float,
    num_resamples: int, seed: int,
) -> dict[str, Any]:  # fmt: skip
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        if design.kind in SOBOL_INDEX_DESIGNS:
            from SALib.analyze import sobol

            return sobol.analyze(
                problem, y, calc_second_order=design.second_order,
                num_resamples=num_resamples, conf_level=conf_level, seed=seed,
            )  # fmt: skip
        from SALib.analyze import morris

        return morris.analyze(
            problem, unit, y, num_resamples=num_resamples, conf_level=conf_level,
            num_levels=design.levels, seed=seed,
        )  # fmt: skip


def table(result: xr.Dataset) -> str:
    """A sensitivity result as text: one row per parameter (a block per LP or grid point)."""
    sobol = "S1" in result.data_vars
    head = f"{result.attrs.get('output', '')} ({result.attrs.get('stat', 'mean')} over days)"
    kind = "Sobol indices" if sobol else "Morris elementary effects"
    conf = 100 * float(result.attrs.get("conf_level", 0.95))
    lines = [
        f"{kind} of {head}, {result.attrs.get('design', '')} design of "
        f"{result.attrs.get('scenarios', '?')} scenarios, {conf:g}% intervals"
    ]
    if result.attrs.get(PARTIAL_ATTR):
        lines.append(f"UNFINISHED: {result.attrs[PARTIAL_ATTR]}; from the chunks done so far")
    others = [d for d in result["S1" if sobol else "mu_star"].dims if d != "parameter"]
    cases = [{}] if not others else [
        dict(zip(others, idx, strict=True))
        for idx in np.ndindex(*(result.sizes[o] for o in others))
    ]  # fmt: skip
    width = max(9, *(len(str(p)) for p in result["parameter"].values))
    for case in cases:
        sel = result.isel(case) if case else result
        if case:
            label = ", ".join(f"{o} = {sel[o].values}" if o in sel.coords else f"{o} #{i}"
                              for o, i in case.items())  # fmt: skip
            lines += ["", label]
        if sobol:
            lines.append(f"{'parameter':<{width}}  {'S1':>16}  {'ST':>16}")
            for j, p in enumerate(sel["parameter"].values):
                s1 = f"{float(sel.S1[j]):.3f} ± {float(sel.S1_conf[j]):.3f}"
                st = f"{float(sel.ST[j]):.3f} ± {float(sel.ST_conf[j]):.3f}"
                lines.append(f"{p!s:<{width}}  {s1:>16}  {st:>16}")
        else:
            lines.append(f"{'parameter':<{width}}  {'mu_star':>22}  {'mu':>11}  {'sigma':>11}")
            for j, p in enumerate(sel["parameter"].values):
                ms = f"{float(sel.mu_star[j]):.4g} ± {float(sel.mu_star_conf[j]):.3g}"
                lines.append(
                    f"{p!s:<{width}}  {ms:>22}  {float(sel.mu[j]):>11.4g}  "
                    f"{float(sel.sigma[j]):>11.4g}"
                )
    return "\n".join(lines)
