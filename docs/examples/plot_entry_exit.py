"""
LPs that decide for themselves: which v and hurdle keep the market supplied?
============================================================================

The shipped config ``entry_exit`` (``sweep run entry_exit``): twenty identical potential
entrants with ``strategy = "hurdle"`` and one scheduled incumbent, on a market that opens in a
volume boom and busts (the traded volume falls about 7x over the year, while the open interest,
and so the target stake, does not). An entrant comes in when the recent fee flow pays its stake
at least ``hurdle`` a year and leaves when what it earned falls below ``exit_hurdle``
(docs/mechanism.rst). The grid is the target stake's ``v`` by the ``hurdle``, under the old
tools' rules and Vega's today (its SLA).

The question a market designer asks first: **which v and hurdle keep the market supplied on 95%
of paths?** Here the config runs on 20 Monte Carlo paths instead of 4, and a path counts as
supplied when its total stake was below target on at most 5% of its days (the first week,
before any entrant may decide, is about 2% of them).
"""

# %%
import tomllib

from matplotlib.figure import Figure

import sweep
from sweep import examples, plot

config = tomllib.loads(examples.path("entry_exit").read_text())
config["sweep"]["paths"] = 20
ds = sweep.run(config)

# entries and exits: the hurdle LPs come in during the boom and leave in the bust
entries = int((ds.decision == 1).sum())
exits = int((ds.decision == -1).sum())
print(f"{entries} entries and {exits} exits over {ds.sizes['path']} paths")

# %%
# The answer: per preset, v and hurdle, the share of paths on which the market stayed supplied
# (under-supplied on at most 5% of days); the designs that do so on at least 95% of them.
days_under = ds.under_supplied.astype(float).mean("day")
supplied = (days_under <= 0.05).mean("path")
table = supplied.to_dataframe("paths supplied")[["paths supplied"]].unstack("hurdle")
print(table.round(2))
keep = supplied.where(supplied >= 0.95).to_dataframe("share").dropna()
print("supplied on at least 95% of paths:")
print(keep.reset_index()[["preset", "v", "hurdle", "share"]].to_string(index=False))

# %%
# The same as a figure, under each preset: a low target (``v``) is easy to reach; a high one
# only while enough entrants stay, and identical entrants tend to leave together in the bust.
fig = Figure(figsize=(11, 4.5), layout="constrained")
for ax, preset in zip(fig.subplots(1, 2), ds.preset.values, strict=True):
    plot.supply_heatmap(ds.sel(preset=preset), measure="supplied_paths", ax=ax)
    ax.set_title(f"{ax.get_title()}\npreset = {preset}", fontsize="small")

# %%
# One scenario over time: how many LPs are in, the total stake against the target (median and
# 5%–95% over the paths), and each LP's entries and exits on one path.
fig = plot.entry_exit(ds.sel(v=50, hurdle=0.1, preset="vega"))
