"""
Three mechanisms side by side: the old tools, Vega 2021 and Vega today
======================================================================

The shipped config ``vega_presets`` (``sweep run vega_presets``) runs the three presets
(``tools``, ``vega_2021``, ``vega``) on a year of a synthetic market with four LPs: one always
on the book, one on it 90% of the time, a flaky one (its time on book drawn from a Beta
distribution each epoch) and one that leaves early. Under ``vega`` the SLA's fee penalties,
bonuses, bond slashes and an early-exit penalty all bite.
"""

# %%
import sweep
from sweep import examples, plot

ds = sweep.run(examples.path("vega_presets"))
sweep.compare(ds, dim="preset")

# %%
# Fee revenue, stake and revenue share, margin and penalties per LP under each preset.
fig = plot.mechanism_comparison(ds, dim="preset")

# %%
# One scenario of the SLA (the first in which it did anything): time on book against the
# minimum, fee penalties, payouts and bonuses, bond slashes and the early-exit penalty per LP and
# epoch, and the stakes and insurance pool over days.
fig = plot.sla_view(ds.isel(plot.sla_scenario(ds)))
