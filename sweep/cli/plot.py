"""``sweep plot RESULT [--out DIR]``: write every standard figure that fits a result as PNG.

What fits depends on the result: per-day results get the market panels, the order book and,
for a ``time_weighted`` share rule, the liquidity paper's figures, all for the first scenario
(and first path); Monte Carlo results get fan charts; results with two or more swept keys get
heatmaps over the first two; a swept rule gets a variant comparison. Results in which Vega's SLA
(or the early-exit penalty) did anything get the SLA view of the first scenario where it did;
results with a ``preset`` dimension get the mechanism comparison. Results with hurdle LPs
(``active_lps``) get their entries and exits over time (the first scenario in which an LP left,
else entered) and, with two swept keys, the supply heatmap (``v`` x ``hurdle`` when swept,
averaged over the other keys). Summary results
(``reduce = "summary"``) have no days, so only the heatmaps and variant comparisons apply.
Figures whose variables the result lacks (``variables`` limited in the config) are skipped.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from .. import plot
from ..plot import _data
from ..plot.book import _NEEDED as ORDER_BOOK_NEEDS
from ..plot.book import _PARAMS as BOOK_PARAMS
from ..plot.book import has_orders
from ..plot.entry import ENTRY_EXIT_NEEDS
from ..plot.market import _PANEL_VARIABLES as PANEL_VARIABLES
from ..plot.sla import _VIEW_NEEDS as SLA_VIEW_NEEDS
from ..plot.sla import _VIEW_PARAMS as SLA_VIEW_PARAMS
from ..storage.layout import sweep_dims

__all__ = ["write_figures"]

_SCENARIO_FIGURES: tuple[tuple[str, Callable[[xr.Dataset], Figure], tuple[str, ...]], ...] = (
    ("mark_price", plot.mark_price, ("mark_price",)),
    ("volume_and_open_interest", plot.volume_and_open_interest, ("traded_volume", "open_interest")),
    ("stake_vs_target", plot.stake_vs_target, ("target_stake", "total_stake")),
    ("fee_rate", plot.fee_rate, ("fee_rate",)),
    ("fees_collected", plot.fees_collected, ("fees_collected",)),
    ("shares", plot.shares, ("equity_share", "stake_share")),
    ("annualised_return", plot.annualised_return, ("lp_annualised_return",)),
    ("margin", plot.margin, ("margin",)),
    ("volume_and_valuation", plot.volume_and_valuation, ("traded_volume", "valuation")),
    ("order_book", plot.order_book, ORDER_BOOK_NEEDS),
)

_PAPER_FIGURES: tuple[tuple[str, Callable[[xr.Dataset], Figure], tuple[str, ...]], ...] = (
    ("time_weighting", plot.time_weighting, ()),
    ("stake_levels", plot.stake_levels, ("stake",)),
    ("fee_split_by_month", plot.fee_split_by_month, ("equity_share",)),
    ("fee_and_volume", plot.fee_and_volume, ("fee_rate", "traded_volume")),
    ("fee_revenue", plot.fee_revenue, ("fee_revenue",)),
    ("fee_revenue_cumulative", lambda d: plot.fee_revenue(d, cumulative=True), ("fee_revenue",)),
    (
        "paper_stacked",
        plot.paper_stacked,
        ("stake", "equity_share", "fee_rate", "traded_volume", "fee_revenue"),
    ),
    ("paper_three_panel", plot.paper_three_panel, ("stake", "equity_share")),
)

# the parameters a paper figure draws besides its variables
_PAPER_PARAMS = {
    "time_weighting": ("steepness", "midpoint"),
    "paper_three_panel": ("steepness", "midpoint"),
}

HEATMAP_VARIABLES = (
    "annualised_return",
    "annualised_return_on_capital",
    "fee_rate",
    "under_supplied",
    "under_supplied_share",
)
FAN_VARIABLES = ("mark_price", "total_stake", "fees_collected", "annualised_return")
VARIANT_VARIABLES = {
    "share_rule": "fee_revenue",
    "fee_rule": "fee_revenue",
    "margin_rule": "margin",
}


def _has(ds: xr.Dataset, names: tuple[str, ...]) -> bool:
    return all(n in ds.data_vars for n in names)


def _note(fig: Figure, text: str) -> None:
    """Say which scenario a figure shows when the result has several."""
    if not text:
        return
    current = fig.get_suptitle()
    if current:
        fig.suptitle(f"{current}\n{text}", fontsize="medium")
    else:
        fig.suptitle(text, fontsize="small", color="0.3")


def write_figures(ds: xr.Dataset, out_dir: Path | str, *, dpi: int = 120) -> list[Path]:
    """Write the standard figures that fit ``ds`` into ``out_dir`` as PNG; return their paths.

    A figure that still fails on this result's data is skipped with a warning, so one odd
    figure does not cost the others.
    """
    from ..storage import partial_note

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    unfinished = partial_note(ds)

    def save(name: str, make: Callable[[], Figure], note: str = "") -> None:
        try:
            fig = make()
        except ValueError as exc:
            warnings.warn(f"sweep plot: skipped {name}: {exc}", stacklevel=3)
            return
        _note(fig, note)
        if unfinished:  # opened by name (partial=True): every figure says so
            fig.text(0.5, 0.005, f"UNFINISHED: {unfinished}", ha="center", va="bottom",
                     color="red", fontsize="small")  # fmt: skip
        path = out_dir / f"{name}.png"
        fig.savefig(path, dpi=dpi, backend="agg")
        written.append(path)

    sweep = sweep_dims(ds)
    swept = [d for d in sweep if ds.sizes[d] > 1]
    first = {d: 0 for d in swept}
    paths = "path" in ds.dims
    if paths:
        first["path"] = 0

    def note(names: tuple[str, ...], at: dict[str, int] = first, source: xr.Dataset = ds) -> str:
        """The scenario a figure shows, along the dims its variables have (the others do not
        change it)."""
        used = {d for n in names if n in source.variables for d in source[n].dims}
        dims = [d for d in at if d in used]
        if not dims:
            return ""
        many = " (first of several scenarios)" if any(source.sizes[d] > 1 for d in dims) else ""
        return f"scenario: {_data.coord_text(source.isel(at), dims)}{many}"

    if "day" in ds.dims:
        scenario = ds.isel(first)
        for name, func, needs in _SCENARIO_FIGURES:
            if name == "order_book" and _has(scenario, needs) and not has_orders(ds).any():
                continue  # every LP has an empty shape: there is no book to draw
            if _has(scenario, needs):
                shown = (*needs, *BOOK_PARAMS) if name == "order_book" else needs
                save(name, lambda f=func: f(scenario), note(shown))
        panels = [needs for name, _, needs in _SCENARIO_FIGURES if name != "order_book"]
        if any(_has(scenario, needs) for needs in panels):
            save("market_panels", lambda: plot.market_panels(scenario), note(PANEL_VARIABLES))

        paper = _time_weighted(ds, first)
        if paper is not None:
            paper_ds, sel = paper
            for name, func, needs in _PAPER_FIGURES:
                if _has(paper_ds, needs):
                    shown = (*needs, *_PAPER_PARAMS.get(name, ()))
                    save(name, lambda f=func: f(paper_ds), note(shown, sel))

        if paths and ds.sizes["path"] > 1:
            fan_sel = {d: 0 for d in swept}
            for var in FAN_VARIABLES:
                if var in ds.data_vars:
                    save(
                        f"fan_{var}",
                        lambda v=var: plot.fan_chart(ds.isel(fan_sel), v),
                        note((var,), fan_sel),
                    )

    gridded = [d for d in swept if d != "sample"]  # a design's samples are no grid axis
    if len(gridded) >= 2:
        x, y = gridded[:2]
        for var in HEATMAP_VARIABLES:
            if var in ds.data_vars:
                save(f"heatmap_{var}", lambda v=var: plot.heatmap(ds, v, x=x, y=y))

    for dim, var in VARIANT_VARIABLES.items():
        if dim in swept and var in ds.data_vars and dim in ds[var].dims:
            save(f"variant_{dim}", lambda d=dim, v=var: plot.variant_comparison(ds, d, v))

    if "day" in ds.dims and _has(ds, SLA_VIEW_NEEDS):
        sla_at = plot.sla_scenario(ds)  # None: the SLA did nothing anywhere
        if sla_at is not None:
            save(
                "sla_view",
                lambda: plot.sla_view(ds.isel(sla_at)),
                note((*SLA_VIEW_NEEDS, *SLA_VIEW_PARAMS), sla_at),
            )
    if "day" in ds.dims and "preset" in swept and _has(ds, ("fee_revenue", "stake", "margin")):
        save("mechanism_comparison", lambda: plot.mechanism_comparison(ds, "preset"))
    if "active_lps" in ds.data_vars:  # hurdle LPs in play
        if "day" in ds.dims and _has(ds, ENTRY_EXIT_NEEDS):
            at = _decision_scenario(ds, swept)
            save(
                "entry_exit",
                lambda: plot.entry_exit(ds.isel(at)),
                note(ENTRY_EXIT_NEEDS, at, ds) if at else "",
            )
        if len(gridded) >= 2 and "under_supplied" in ds.data_vars:
            save("supply_heatmap", lambda: plot.supply_heatmap(ds))
    for name, make in plot.design.standard_figures(ds):  # sampled designs (sweep.plot.design)
        save(name, make)
    return written


def _decision_scenario(ds: xr.Dataset, swept: list[str]) -> dict[str, int]:
    """``isel`` indices (swept dims, not path) of the first scenario in grid order in which a
    hurdle LP asked to leave on some path, else asked to enter, else the first: the figure is
    about entries and exits, so show some."""
    decision = ds["decision"]
    inner = [d for d in decision.dims if d not in swept]
    order = [d for d in swept if d in decision.dims]
    for value in (-1, 1):
        mask = (decision == value).any(inner)
        values = np.asarray(mask.transpose(*order).values, dtype=bool) if order else None
        if values is not None and values.any():
            found = dict(zip(order, (int(i) for i in np.argwhere(values)[0]), strict=True))
            return {d: found.get(d, 0) for d in swept}
    return {d: 0 for d in swept}


def _time_weighted(ds: xr.Dataset, first: dict[str, int]) -> tuple[xr.Dataset, dict] | None:
    """The first ``time_weighted`` scenario and its selection, if the result has one that spans
    two months."""
    try:
        rules = [str(r) for r in ds.sweep.param("share_rule").values.reshape(-1)]
    except KeyError:  # a result without it (an older one that dropped it)
        return None
    if "time_weighted" not in rules:
        return None
    sel = dict(first)
    if "share_rule" in ds.dims:
        sel["share_rule"] = rules.index("time_weighted")
    scenario = ds.isel(sel)
    if len(_data.month_days(scenario)) < 2:
        return None
    return scenario, sel
