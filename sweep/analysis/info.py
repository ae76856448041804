"""``sweep info RESULT``: what a result file holds and its headline numbers, as text.

Works for full (per-day) and summary (``reduce = "summary"``) results, and for results that
kept only some variables. Numbers are reduced block by block along the first dimension, so a
result larger than memory is summarised in bounded memory.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import xarray as xr

from ..config.design import SAMPLE_DIM, Design, from_attrs
from ..mechanism.variables import PATH_SERIES, PER_EPOCH, SHARE_OF
from ..storage.layout import NON_SWEEP_DIMS, ordered_sizes

BLOCK_BYTES = 64 * 2**20  # read at most about this much of one variable at a time
_AUX_DIMS = ("tick", "commit")
MAX_VARIANTS = 12  # values of one swept key listed one by one in the hurdle LPs' lines


def _blocked(da: xr.DataArray) -> xr.DataArray:
    """The variable as a lazy dask array in blocks of about BLOCK_BYTES along its first dim."""
    if not da.dims or da.nbytes <= BLOCK_BYTES:
        return da
    first = da.dims[0]
    per_row = da.nbytes / da.sizes[first]
    rows = max(1, int(BLOCK_BYTES // per_row))
    return da.chunk({first: rows, **{d: -1 for d in da.dims[1:]}})


def _value(da: xr.DataArray) -> float:
    da = da.compute(scheduler="synchronous") if da.chunks else da
    return float(np.asarray(da.values))


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
        return f"{x:.4g}"
    return f"{x:,.4f}".rstrip("0").rstrip(".") if abs(x) < 1000 else f"{x:,.0f}"


def _n_days(ds: xr.Dataset) -> int | None:
    if "day" in ds.sizes:
        return int(ds.sizes["day"])
    days = ds.attrs.get("days")
    return int(days) if days is not None else None


def _scenario_dims(ds: xr.Dataset, da: xr.DataArray) -> list[str]:
    """Dims of ``da`` that index scenarios: the sweep dims and ``path``."""
    return [d for d in da.dims if d == "path" or d not in NON_SWEEP_DIMS]


def _headline(ds: xr.Dataset) -> list[str]:
    """Means (and ranges) over every scenario.

    A variable carries only the sweep dimensions it depends on and is the same along the others,
    so its plain mean over its own dimensions is its mean over every scenario of the grid.
    """
    summary = "stat" in ds.dims
    lines: list[str] = []

    def over_days(name: str) -> xr.DataArray | None:
        """The per-scenario mean over days of a variable (from its summary, if that)."""
        if name not in ds.data_vars:
            return None
        da = _blocked(ds[name])
        if summary:
            return da.sel(stat="mean")
        return da.astype(float).mean("day") if name == "under_supplied" else da.mean("day")

    fee_rate = over_days("fee_rate")
    if fee_rate is not None:
        dims = _scenario_dims(ds, fee_rate)
        mean = _value(fee_rate.mean())
        low = _value(fee_rate.min()) if dims else mean
        high = _value(fee_rate.max()) if dims else mean
        lines.append(
            f"  mean fee rate:            {_fmt(mean)}"
            + (f"  (scenarios from {_fmt(low)} to {_fmt(high)})" if dims else "")
        )
    under = None
    if summary and "under_supplied_share" in ds.data_vars:
        under = _blocked(ds["under_supplied_share"])
    elif not summary:
        under = over_days("under_supplied")
    if under is not None:
        share = _value(under.mean())
        worst = _value(under.max())
        lines.append(
            f"  days under-supplied:      {100 * share:.2f} %  (worst scenario {100 * worst:.2f} %)"
        )
    if "annualised_return" in ds.data_vars:
        mean_return = _value(over_days("annualised_return").mean())
        lines.append(f"  mean annualised return:   {_fmt(mean_return)}")
    if "fee_revenue" in ds.data_vars:
        n_days = _n_days(ds)
        rev = _blocked(ds["fee_revenue"])
        if summary:
            per = rev.sel(stat="mean") * n_days if n_days else rev.sel(stat="mean")
            what = "total over days" if n_days else "mean per day"
        else:
            per = rev.sum("day")
            what = "total over days"
        dims = _scenario_dims(ds, per)
        moves_note = (
            "; entries and exits: mean count per scenario" if _entries_exits(ds) is not None else ""
        )
        lines.append(f"  fee revenue per LP ({what}; mean over scenarios, min .. max{moves_note}):")
        names = [str(x) for x in ds["lp"].values]
        width = max(len(n) for n in names)
        means = per.mean(dims) if dims else per
        lows = per.min(dims) if dims else per
        highs = per.max(dims) if dims else per
        columns = {"mean": means, "low": lows, "high": highs}
        moves = _entries_exits(ds)
        if moves is not None:  # hurdle LPs: how often each asked to enter and to leave
            for key, da in moves.items():
                columns[key] = da.mean(_scenario_dims(ds, da)) if _scenario_dims(ds, da) else da
        computed = xr.Dataset(columns)
        computed = computed.compute(scheduler="synchronous") if per.chunks else computed
        for i, name in enumerate(names):
            row = computed.isel(lp=i)
            lines.append(
                f"    {name:<{width}}  {_fmt(float(row['mean']))}"
                f"  ({_fmt(float(row['low']))} .. {_fmt(float(row['high']))})"
                + (
                    f"  entries {float(row['entries']):.2f}, exits {float(row['exits']):.2f}"
                    if moves is not None
                    else ""
                )
            )
    lines.extend(_sla_headline(ds))
    lines.extend(_hurdle_headline(ds))
    if not lines:
        lines.append("  (none: the result keeps none of fee_rate, under_supplied, fee_revenue)")
    return lines


def _entries_exits(ds: xr.Dataset) -> dict[str, xr.DataArray] | None:
    """Per scenario and LP, how many times a hurdle LP asked to enter and to leave; None
    without hurdle LPs' daily decisions (a summary keeps their statistics, not the counts)."""
    if "decision" not in ds.data_vars or "day" not in ds["decision"].dims:
        return None
    decision = _blocked(ds["decision"])
    return {
        "entries": (decision == 1).sum("day"),
        "exits": (decision == -1).sum("day"),
    }


def _hurdle_headline(ds: xr.Dataset) -> list[str]:
    """LPs that decide for themselves: how many were in at the end, and how many entries and
    exits, over every scenario and per value of each swept key (a variant: a preset, a v, a
    hurdle), where the result has their outputs."""
    if "active_lps" not in ds.data_vars:
        return []
    summary = "stat" in ds.dims
    active = _blocked(ds["active_lps"])
    columns = {"in": active.sel(stat="final") if summary else active.isel(day=-1)}
    moves = _entries_exits(ds)
    if moves is not None:
        columns.update({key: da.sum("lp") for key, da in moves.items()})
    table = xr.Dataset(columns).astype(float)
    table = (
        table.compute(scheduler="synchronous") if any(v.chunks for v in table.values()) else table
    )
    lines = ["  LPs in and out (mean per scenario; in: LPs with stake on the last day):"]

    def row(label: str, part: xr.Dataset) -> str:
        text = f"    {label}  in at the end {float(part['in'].mean()):.2f}"
        if moves is not None:
            text += f", entries {float(part['entries'].mean()):.2f}"
            text += f", exits {float(part['exits'].mean()):.2f}"
        return text

    swept = [d for d in table.dims if d not in NON_SWEEP_DIMS and d != SAMPLE_DIM]
    labels = {"all scenarios": None}
    listed = [d for d in swept if ds.sizes[d] <= MAX_VARIANTS]
    labels.update({f"{d} = {v}": (d, i) for d in listed for i, v in enumerate(ds[d].values)})
    width = max(map(len, labels))
    for label, at in labels.items():
        part = table if at is None else table.isel({at[0]: at[1]})
        lines.append(row(f"{label:<{width}}", part))
    for d in swept:
        if d not in listed:
            lines.append(f"    ({d}: {ds.sizes[d]} values, too many to list one by one)")
    if moves is None:
        lines.append("    (entries and exits: a summary result keeps no daily decisions)")
    return lines


SLA_TOTALS = ("fee_payout", "sla_bonus", "bond_penalty", "early_exit_penalty")


def _sla_headline(ds: xr.Dataset) -> list[str]:
    """The SLA's penalties, payouts and bonuses per LP, where the result has any."""
    kept = [n for n in ("sla_fee_penalty", *SLA_TOTALS) if n in ds.data_vars]
    if not kept or not any(_value(abs(_blocked(ds[n])).max()) > 0 for n in kept):
        return []
    summary = "stat" in ds.dims
    epochs = ds.sizes.get("epoch", ds.attrs.get("epochs"))
    columns: dict[str, xr.DataArray] = {}
    for name in kept:
        da = _blocked(ds[name])
        if summary:  # statistics over epochs: the mean, times the epochs for a total
            da = da.sel(stat="mean") * (1 if name == "sla_fee_penalty" else (epochs or 1))
        else:
            da = da.mean("epoch") if name == "sla_fee_penalty" else da.sum("epoch")
        dims = _scenario_dims(ds, da)
        columns[name] = da.mean(dims) if dims else da
    table = xr.Dataset(columns)
    table = (
        table.compute(scheduler="synchronous")
        if any(v.chunks for v in table.data_vars.values())
        else table
    )
    heads = {
        "sla_fee_penalty": "penalty",
        "fee_payout": "paid",
        "sla_bonus": "bonus",
        "bond_penalty": "bond slashed",
        "early_exit_penalty": "early exit",
    }
    names = [str(x) for x in ds["lp"].values]
    width = max(len(n) for n in names)
    lines = [
        "  SLA per LP (mean fee penalty over epochs; totals over the path; mean over scenarios):"
    ]
    lines.append("    " + " " * width + "".join(f"  {heads[n]:>14}" for n in kept))
    for i, name in enumerate(names):
        row = table.isel(lp=i)
        lines.append(f"    {name:<{width}}" + "".join(f"  {_fmt(float(row[n])):>14}" for n in kept))
    if "insurance_pool" in ds.data_vars:
        pool = _blocked(ds["insurance_pool"])
        final = pool.sel(stat="final") if summary else pool.isel(day=-1)
        lines.append(f"  insurance pool at the end: {_fmt(_value(final.mean()))}")
    return lines


def _design_lines(design: Design) -> list[str]:
    """A sampled result's design: its kind, size and seed, and each sampled key's range."""
    rows = design.n_rows
    if design.kind == "saltelli":
        size = f"{design.samples:,} base samples ({rows:,} scenarios"
        size += ", second order)" if design.second_order else ")"
    elif design.kind == "morris":
        size = f"{design.samples:,} trajectories ({rows:,} scenarios), {design.levels} levels"
    else:
        size = f"{design.samples:,} samples"
    lines = [f"design: {design.kind}, {size}, seed {design.seed}; sampled along {SAMPLE_DIM!r}:"]
    for spec in design.specs:
        if spec.kind == "choices":
            what = "one of " + ", ".join(str(c) for c in spec.choices)
        else:
            what = f"{'integers' if spec.value_type == 'int' else 'uniform'} in "
            what += f"[{_fmt(float(spec.low))}, {_fmt(float(spec.high))}]"
            what += ", log scale" if spec.scale == "log" else ""
        lines.append(f"  [{spec.section}] {spec.key}: {what}")
    return lines


def summary_text(
    ds: xr.Dataset, path: str | os.PathLike | None = None, *, incomplete: str | None = None
) -> str:
    """Dimensions, swept values, variables and headline numbers of a result, for people.

    ``incomplete`` (for an interrupted run's partial file) is shown as a label in place of the
    headline numbers, which unfinished (zero-filled) chunks would falsify.
    """
    summary = "stat" in ds.dims
    name = ds.attrs.get("name", "?")
    kind = 'summary over days (reduce = "summary")' if summary else "every day"
    lines = []
    if path is not None:
        size = Path(path).stat().st_size / 2**20 if Path(path).is_file() else None
        lines.append(f"{path}" + (f"  ({size:,.1f} MiB)" if size is not None else ""))
    lines.append(
        f"sweep result {name!r}: {kind}; sweep {ds.attrs.get('sweep_version', '?')}, "
        f"created {ds.attrs.get('created', '?')}"
    )
    if incomplete:
        lines.append(f"INCOMPLETE: {incomplete}")
    main = {d: n for d, n in ordered_sizes(ds).items() if d not in _AUX_DIMS}
    n_scen = math.prod(n for d, n in main.items() if d == "path" or d not in NON_SWEEP_DIMS)
    lines.append(
        "dimensions: "
        + " x ".join(f"{d} {n}" for d, n in main.items())
        + f"  ({n_scen:,} scenarios)"
    )
    design = from_attrs(ds.attrs)
    if design is not None:
        lines.extend(_design_lines(design))
    swept = [d for d in main if d not in NON_SWEEP_DIMS]
    for d in swept:
        if design is not None and d == SAMPLE_DIM:  # its values are the design's rows
            continue
        values = ", ".join(str(v) for v in ds[d].values[:8])
        more = f", ... ({ds.sizes[d]} values)" if ds.sizes[d] > 8 else ""
        lines.append(f"  {d}: {values}{more}")
    if "date" in ds.coords:
        dates = ds["date"].values
        lines.append(f"  date: {str(dates[0])[:10]} to {str(dates[-1])[:10]}")
    lines.append(f"  lp: {', '.join(str(x) for x in ds['lp'].values)}")
    over = ", statistics over days" if summary else ""
    per_day, per_lp = f"per day{over}", f"per day and LP{over}"
    per_epoch = "per epoch and LP" + (", statistics over epochs" if summary else "")
    groups: dict[str, list[str]] = {}
    for var, da in ds.data_vars.items():
        if var in PATH_SERIES:
            group = f"market{over}"
        elif var in PER_EPOCH:
            group = per_epoch
        elif var in SHARE_OF:
            group = "per scenario"
        elif "lp" in da.dims and ("day" in da.dims or "stat" in da.dims):
            group = per_lp
        elif "day" in da.dims or "stat" in da.dims:
            group = per_day
        elif "tick" in da.dims or "commit" in da.dims:
            group = "inputs"
        else:
            group = "other"
        groups.setdefault(group, []).append(str(var))
    lines.append(f"variables ({len(ds.data_vars)}):")
    for group in (per_day, per_lp, per_epoch, "per scenario", f"market{over}", "other", "inputs"):
        if group in groups:
            lines.append(f"  {group}: {', '.join(groups[group])}")
    if incomplete:
        lines.append("headline numbers: none until every chunk is done")
        return "\n".join(lines)
    over = "every scenario" + (" and path" if "path" in ds.dims else "")
    lines.append(f"headline numbers (over {over}):")
    lines.extend(_headline(ds))
    return "\n".join(lines)
