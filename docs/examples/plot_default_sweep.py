"""
The default sweep: a grid over ``v``, ``valuation_period`` and the share rule
=============================================================================

``sweep run`` without a config runs this sweep: an embedded synthetic market (a geometric
Brownian price and log-normal volume, 8 Monte Carlo paths of 365 days) with four LPs, under a
grid of the target-stake parameter ``v``, the valuation window and two fee-split rules.
"""

# %%
import sweep
from sweep import plot
from sweep.cli.main import default_config_path

ds = sweep.run(default_config_path())
print(ds)

# %%
# How much of the year is the market under-supplied, for each ``v`` and valuation window? The
# target stake grows with ``v``; the valuation window does not move it, so the bands along that
# axis are equal.
fig = plot.heatmap(ds, "under_supplied", x="v", y="valuation_period")

# %%
# The annualised fee return on total stake, over the same grid.
fig = plot.heatmap(ds, "annualised_return", x="v", y="valuation_period")

# %%
# Fan charts spread over the Monte Carlo paths of one scenario: the mark price and the fees
# collected per day (5%, 25%, 50%, 75% and 95% quantiles).
first = ds.isel(v=0, valuation_period=0, share_rule=0)
fig = plot.fan_chart(first, "mark_price")

# %%
fig = plot.fan_chart(first, "fees_collected")

# %%
# Who earns what under each share rule: the LPs' fee revenue, per rule.
fig = plot.variant_comparison(ds, "share_rule", "fee_revenue")
