"""
The fee examples: fees are volume times the bid
===============================================

With one LP the fee rate is its bid, so on a market with constant volume the fees collected on
a day are exactly the traded volume times the current bid. The shipped config ``fee_constant_bid``
keeps the bid at 0.2%; ``fee_stepped_bid`` raises it every 15 days.
"""

# %%
import numpy as np

import sweep
from sweep import examples, plot

constant = sweep.run(examples.path("fee_constant_bid"))
stepped = sweep.run(examples.path("fee_stepped_bid"))

# fees per day are volume x bid, exactly
assert np.array_equal(stepped.fees_collected, stepped.traded_volume * stepped.fee_rate)

# %%
fig = plot.fee_rate(constant)

# %%
# The stepped bid: the fee rate follows the LP's amendments on days 15, 30 and 45, and the fees
# collected follow it.
fig = plot.fee_rate(stepped)

# %%
fig = plot.fees_collected(stepped)
