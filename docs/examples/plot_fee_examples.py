"""
The fee examples: fees are volume times the bid
===============================================

With one LP the fee rate is its bid, so on a market with constant volume the fees collected on
a day are exactly the traded volume times the current bid. ``configs/fee_constant_bid.toml``
keeps the bid at 0.2%; ``configs/fee_stepped_bid.toml`` raises it every 15 days.
"""

# %%
from pathlib import Path

import numpy as np

import sweep
from sweep import plot

CONFIGS = Path(sweep.__file__).resolve().parents[1] / "configs"  # the repository's configs/
constant = sweep.run(CONFIGS / "fee_constant_bid.toml")
stepped = sweep.run(CONFIGS / "fee_stepped_bid.toml")

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
