"""Matplotlib figures from a sweep result dataset.

Every function takes a result (``sweep.run``/``sweep.load``) and returns a
:class:`matplotlib.figure.Figure` built without pyplot, so importing this package never picks a
GUI backend and figures are freed with their last reference. Show one in a notebook by leaving it
as the cell's value (after ``%matplotlib inline``), save it with ``fig.savefig("x.png")``.

Each result variable carries only the sweep dimensions it depends on; the figures treat a
variable as the same along the dimensions it lacks.

- One scenario (select with ``.sel``/``.isel`` first, along the dimensions the figure's
  variables have; the others do not change it): :func:`market_panels` and its panels
  (:func:`mark_price`, :func:`volume_and_open_interest`, :func:`stake_vs_target`,
  :func:`fee_rate`, :func:`fees_collected`, :func:`shares`, :func:`equity_share`,
  :func:`stake_share`, :func:`annualised_return`, :func:`margin`, :func:`volume_and_valuation`),
  :func:`order_book`, and the liquidity paper's figures (:func:`time_weighting`,
  :func:`stake_levels`, :func:`fee_split_by_month`, :func:`fee_and_volume`, :func:`fee_revenue`,
  :func:`paper_stacked`, :func:`paper_three_panel`).
- Vega's SLA in one scenario: :func:`sla_view` (time on book, fee penalties, payouts and
  bonuses, bond slashes and early-exit penalties per LP and epoch, the insurance pool);
  :func:`sla_scenario` finds the first scenario in which the SLA did anything.
- Across a sweep: :func:`heatmap` (a variable lacking an axis's dimension shows equal bands
  along it), :func:`fan_chart` (a variable without ``path`` is a fan of zero width),
  :func:`variant_comparison`, :func:`mechanism_comparison` (fee revenue, stake share, margin
  and penalties per LP under each preset or rule).
- LPs that decide for themselves (``strategy = "hurdle"``): :func:`entry_exit` (one
  scenario's LPs over time: how many are in, total stake against target as a fan over paths,
  each LP's entries and exits), :func:`supply_heatmap` (the share of days under-supplied, or
  the final stake / target, over two sweep dimensions such as ``v`` x ``hurdle``).
- Sampled designs (``[sweep] design``): :func:`sensitivity_bars` (Sobol' indices or Morris
  effects with their intervals, from :func:`sweep.sensitivity`), :func:`design_scatter` (an
  output over two sampled parameters, coloured by the output).
"""

from __future__ import annotations

from ..storage.layout import sweep_dims
from .book import order_book
from .design import design_scatter, sensitivity_bars
from .entry import entry_exit, supply_heatmap
from .market import (
    annualised_return,
    equity_share,
    fee_rate,
    fees_collected,
    margin,
    mark_price,
    market_panels,
    shares,
    stake_share,
    stake_vs_target,
    volume_and_open_interest,
    volume_and_valuation,
)
from .paper import (
    fee_and_volume,
    fee_revenue,
    fee_split_by_month,
    paper_stacked,
    paper_three_panel,
    stake_levels,
    time_weighting,
    weighting,
)
from .sla import mechanism_comparison, sla_scenario, sla_view
from .views import fan_chart, heatmap, variant_comparison

__all__ = [
    "annualised_return",
    "design_scatter",
    "entry_exit",
    "equity_share",
    "fan_chart",
    "fee_and_volume",
    "fee_rate",
    "fee_revenue",
    "fee_split_by_month",
    "fees_collected",
    "heatmap",
    "margin",
    "mark_price",
    "market_panels",
    "mechanism_comparison",
    "order_book",
    "paper_stacked",
    "paper_three_panel",
    "shares",
    "sla_scenario",
    "sensitivity_bars",
    "sla_view",
    "stake_levels",
    "stake_share",
    "stake_vs_target",
    "supply_heatmap",
    "sweep_dims",
    "time_weighting",
    "variant_comparison",
    "volume_and_open_interest",
    "volume_and_valuation",
    "weighting",
]
