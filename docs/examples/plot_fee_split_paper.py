"""
The liquidity paper's fee split: time-weighted stake
====================================================

The shipped config ``fee_split_paper`` (``sweep run fee_split_paper``) replays the "Fee
Calculations" notebook of the liquidity paper: four market makers reach a stake of 3 million in
different ways (all at once; half now and half at mid-year; a quarter each quarter; a twelfth
each month), and fees are split by time-weighted stake, each tranche weighted by ``w(x) = 1 / (1
+ exp(-8 (x - 0.5)))`` of its age ``x`` in years (``share_rule = "time_weighted"``).
"""

# %%
import sweep
from sweep import examples, plot

ds = sweep.run(examples.path("fee_split_paper"))

# %%
# The weight of a tranche by its age.
fig = plot.time_weighting(ds)

# %%
# The paper's figure: stakes, the fee split by month, the fee rate and volume, and the fee
# revenue of each market maker.
fig = plot.paper_stacked(ds)

# %%
fig = plot.paper_three_panel(ds)

# %%
# Cumulative fee revenue per market maker over the year.
fig = plot.fee_revenue(ds, cumulative=True)
