"""
The old tools' "simple test": four LPs while volume jumps
=========================================================

The shipped config ``simple_test`` (``sweep run simple_test``) replays the old tools' simple
test: four LPs enter with stakes 100, 100, 100 and 500 over ten days while traded volume jumps
tenfold twice. Under the default ``equity`` share rule the LPs who came early, when the market
was worth less, earn more per unit of stake.
"""

# %%
import sweep
from sweep import examples, plot

ds = sweep.run(examples.path("simple_test"))

# %%
# All market panels of one scenario, as the old tools drew them: price, volume and open
# interest, stake against target, fee rate, fees, shares, returns, margin, valuation.
fig = plot.market_panels(ds)

# %%
# Equity share (what each LP earns) against stake share (what it put in).
fig = plot.shares(ds)

# %%
# One LP's order book on one day: its limit orders and the pegged volume that meets its
# obligation at each level, buy levels below mid and sell levels above.
fig = plot.order_book(ds, lp="LP4", day=9)
