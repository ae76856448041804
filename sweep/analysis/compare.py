"""Compare mechanism variants side by side: who earns what under each rule.

``compare(ds, dim="share_rule")`` turns a result with several variants into a tidy table, one row
per variant and LP (and per value of any dimension named in ``keep``), averaged over every other
sweep dimension and over Monte Carlo paths.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import ConfigError, PartialResultWarning
from ..storage import PARTIAL_ATTR, partial_note
from ..storage.layout import sweep_dims

DAYS_PER_YEAR = 365.0
SLA_COLUMNS = ("sla_fee_penalty", "fee_payout", "sla_bonus", "bond_penalty", "early_exit_penalty")
NEEDED = ("fee_revenue", "stake", "fees_collected", "under_supplied")


def compare(ds: xr.Dataset, dim: str = "share_rule", keep: Sequence[str] = ()) -> pd.DataFrame:
    """Per variant of ``dim`` and per LP: revenue, revenue share vs stake share, return, supply.

    Every other sweep dimension and ``path`` are averaged over, except those in ``keep``. A
    variable carries only the sweep dimensions it depends on; lacking one, it is the same for
    every value of it (stake-days do not depend on the share rule, so the stake share is the
    same under every variant), and it is broadcast there.

    Parameters
    ----------
    ds : xarray.Dataset
        A result with days (not ``reduce = "summary"``) that has ``dim`` as a dimension.
    dim : str, default "share_rule"
        The dimension whose values are compared: a rule key, ``preset``, or any swept key.
    keep : sequence of str, default ()
        Sweep dimensions kept (a column each, a row per value) instead of averaged over.

    Returns
    -------
    pandas.DataFrame
        One row per value of ``dim`` (and of each ``keep`` dimension) and LP: columns ``dim``,
        the ``keep`` dimensions, ``lp``, then

        - ``fee_revenue``: the LP's fees summed over days (USD);
        - ``revenue_share``: that revenue over all fees collected;
        - ``stake_share``: the LP's stake-days over all stake-days (its time-averaged stake
          share);
        - ``revenue_vs_stake``: revenue_share - stake_share (who the rule favours);
        - ``annualised_return``: 365 * revenue / stake-days (fee income per unit stake and
          year);
        - ``days_under_supplied``: days with total stake below target stake (market-wide);
        - where hurdle LPs are in play (the result has ``decision``): ``entries`` and ``exits``,
          the times the LP asked to enter and to leave (hurdle LPs decide; scheduled ones are
          0);
        - where the result has the SLA's outputs and any is nonzero: ``sla_fee_penalty`` (the
          LP's mean penalty over epochs), ``fee_payout``, ``sla_bonus``, ``bond_penalty`` and
          ``early_exit_penalty`` (summed over epochs, USD).
    """
    if not isinstance(ds, xr.Dataset):
        raise ConfigError("ds", type(ds).__name__, "must be a result dataset (sweep.load(path))")
    if not isinstance(dim, str):
        raise ConfigError("dim", dim, "must be the name of a dimension (a str)")
    if isinstance(keep, str):
        keep = [keep]
    if not all(isinstance(k, str) for k in keep):
        raise ConfigError("keep", keep, "must be dimension names (a str or a list of str)")
    unfinished = partial_note(ds)
    if unfinished:
        warnings.warn(
            f"compare from {unfinished}: the numbers come from the chunks done so far",
            PartialResultWarning,
            stacklevel=2,
        )
    swept = sweep_dims(ds)
    listed = ", ".join(swept) or "none"
    if dim not in swept:
        what = (
            f"is not a sweep dimension: compare sets the variants of a swept key side by side "
            f"(each row sums whole paths, so {dim!r} cannot make rows)"
            if dim in ds.dims
            else "is not in the result"
        )
        raise ConfigError("dim", dim, f"{what}; its sweep dimensions: {listed}")
    if "day" not in ds.dims:
        raise ConfigError("ds", "reduce = 'summary'", "compare needs daily results")
    missing = [v for v in NEEDED if v not in ds]
    if missing:
        raise ValueError(
            f"compare needs {', '.join(missing)}, not kept in this result "
            f"(its variables: {', '.join(map(str, ds.data_vars))})"
        )
    for k in keep:
        if k == dim:
            raise ConfigError("keep", k, f"is the compared dimension (dim = {dim!r}) already")
        if k not in swept and not (k == "path" and k in ds.dims):  # per path: meaningful
            raise ConfigError(
                "keep",
                k,
                f"is not a sweep dimension (nor path) of the result; its sweep dimensions: "
                f"{listed}",
            )
    if len(set(keep)) != len(keep):
        raise ConfigError("keep", list(keep), "names a dimension twice")
    revenue = ds.fee_revenue.sum("day")
    stake_days = ds.stake.sum("day")
    fees = ds.fees_collected.sum("day")
    table = xr.Dataset(
        {
            "fee_revenue": revenue,
            "revenue_share": revenue / fees.where(fees > 0),
            "stake_share": stake_days / stake_days.sum("lp").where(stake_days.sum("lp") > 0),
            "annualised_return": DAYS_PER_YEAR * revenue / stake_days.where(stake_days > 0),
            "days_under_supplied": ds.under_supplied.sum("day").astype(float),
        }
    )
    table["revenue_vs_stake"] = table.revenue_share - table.stake_share
    moves = ["entries", "exits"] if "decision" in ds.data_vars else []
    if moves:  # LPs that decide for themselves: how often each came and went
        table["entries"] = (ds.decision == 1).sum("day").astype(float)
        table["exits"] = (ds.decision == -1).sum("day").astype(float)
    sla = [n for n in SLA_COLUMNS if n in ds.data_vars and "epoch" in ds[n].dims]
    if sla and any(bool(ds[n].any()) for n in sla):
        for name in sla:
            over_epochs = (
                ds[name].mean("epoch") if name == "sla_fee_penalty" else ds[name].sum("epoch")
            )
            table[name] = over_epochs
    else:
        sla = []
    # each column's mean over the dims it has is its mean over every scenario: a variable is
    # constant along the dims it lacks
    over = [d for d in table.dims if d not in (dim, "lp", *keep)]
    if over:
        table = table.mean(over)
    # one row per variant (and kept value) and LP even where no column depends on them
    rows = [dim, *keep, "lp"]
    table = table.expand_dims({d: ds[d].values for d in rows if d not in table.dims})
    frame = table.to_dataframe(dim_order=rows).reset_index()
    columns = [
        dim,
        *keep,
        "lp",
        "fee_revenue",
        "revenue_share",
        "stake_share",
        "revenue_vs_stake",
        "annualised_return",
        "days_under_supplied",
        *moves,
        *sla,
    ]
    dtypes = {d: frame[d].dtype for d in rows}
    for d in rows:  # rows in the result's order of each dimension, not alphabetical
        frame[d] = pd.Categorical(frame[d], categories=list(dict.fromkeys(frame[d])))
    frame = frame[columns].sort_values([dim, *keep, "lp"], kind="stable").reset_index(drop=True)
    frame = frame.astype(dtypes).replace({np.inf: np.nan})
    if unfinished:
        frame.attrs[PARTIAL_ATTR] = unfinished  # who reads the table can tell
    return frame
