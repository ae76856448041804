"""
Margin strategies: aggressive, uniform and passive books
========================================================

The shipped config ``margin_strategies`` (``sweep run margin_strategies``): three LPs with the
same stake and bid place their pegged volume one tick from mid (aggressive), spread over all
levels (uniform) or at the last level (passive) while the price swings on a sine. Far levels are
less likely to trade, so meeting the same obligation takes more volume there, and more margin:
aggressive < uniform < passive, on every day and under both margin rules (the config sweeps
``margin_rule``).
"""

# %%
import sweep
from sweep import examples, plot

ds = sweep.run(examples.path("margin_strategies"))
ds.margin.mean("day").to_pandas()

# %%
fig = plot.margin(ds.sel(margin_rule="max"))

# %%
# The two margin rules side by side: the larger side's margin (``max``, the default) or both
# sides' (``sum``, the old tools' code).
fig = plot.variant_comparison(ds, "margin_rule", "margin")

# %%
# The passive LP's book on day 0: all its pegged volume at the last level on each side.
fig = plot.order_book(ds.sel(margin_rule="max"), lp=2, day=0)
