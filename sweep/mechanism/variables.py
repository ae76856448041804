"""The result variables: what each one is, its dimensions and its CF attributes.

Each variable is declared once, with its units and meaning; ``scope`` says what it is indexed by
besides the sweep: ``path`` (market series: the path keys and ``path``, then days), ``risk``
(risk factors: the risk keys), ``day`` (per day) and ``lp`` (per day and LP). Which sweep
dimensions an output has is decided by the stage that computes it (``sweep.engine.stages``).

``made_by`` names the mechanism that makes a variable: the rule values (``(key, value)``) any
one of which, in play in some scenario, puts it in a result; a variable without one is always
made. A result holds only the variables whose mechanism is in play (:func:`in_play`): a sweep
without the SLA has no ``epoch`` dimension and none of the SLA's outputs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variable:
    name: str
    scope: str  # "path": path dims + day; "risk": risk dims; "day": scenario + day; "lp": + lp;
    # "epoch": scenario + epoch + lp
    units: str  # UDUNITS-2 (``USD``, which UDUNITS does not know, aside: sweep.storage.layout)
    long_name: str
    dtype: str = "float64"
    made_by: tuple[tuple[str, str], ...] = ()  # rule values that make it (none: always made)


SLA = (("sla", "on"),)  # the SLA's outputs: made where [mechanism] sla = "on" somewhere
EXIT_PENALTY = ("exit_rule", "penalty")  # early-exit penalties, with or without the SLA
SCORED = (("liquidity_score", "probability"),)
# LPs that decide for themselves: made where some [[lp]] has strategy = "hurdle"
# (``sweep.engine.plan.rules_in_play`` counts ``strategy`` among the rules in play)
HURDLE = (("strategy", "hurdle"),)


_VARIABLES = [
    Variable("mark_price", "path", "USD", "mark price"),
    Variable("traded_volume", "path", "USD d-1", "notional traded per day"),
    Variable("open_interest", "path", "USD", "open interest"),
    Variable("rf_long", "risk", "1", "risk factor of long positions"),
    Variable("rf_short", "risk", "1", "risk factor of short positions"),
    # per day (kernel order)
    Variable("valuation", "day", "USD", "market valuation: max(volume proxy, total stake)"),
    Variable("target_stake", "day", "USD", "target stake: c2 * v * rf * max open interest"),
    Variable("total_stake", "day", "USD", "total committed stake"),
    Variable("fee_rate", "day", "1", "liquidity fee rate"),
    Variable("fees_collected", "day", "USD d-1", "liquidity fees collected"),
    Variable("annualised_return", "day", "year-1", "annualised fee return on total stake"),
    Variable("total_margin", "day", "USD", "margin of all LPs' orders"),
    Variable(
        "annualised_return_on_capital",
        "day",
        "year-1",
        "annualised fees over target stake plus total margin",
    ),
    Variable("supply_ratio", "day", "1", "total stake / target stake"),
    Variable("under_supplied", "day", "1", "total stake below target stake", dtype="bool"),
    # per day and LP (kernel order)
    Variable("stake", "lp", "USD", "committed stake"),
    Variable("fee_bid", "lp", "1", "liquidity fee bid"),
    Variable("equity", "lp", "USD", "weight in the fee split under the share rule"),
    Variable("equity_share", "lp", "1", "share of fees received"),
    Variable("stake_share", "lp", "1", "share of total stake"),
    Variable("fee_revenue", "lp", "USD d-1", "fee revenue"),
    Variable("lp_annualised_return", "lp", "year-1", "annualised fee return on stake"),
    Variable("obligation", "lp", "USD", "liquidity obligation: k * stake"),
    Variable("margin_buy", "lp", "USD", "margin of buy orders (under margin_orders)"),
    Variable("margin_sell", "lp", "USD", "margin of sell orders (under margin_orders)"),
    Variable("margin", "lp", "USD", "margin of the orders under the margin rule"),
    Variable("supplied_liquidity", "lp", "USD", "liquidity supplied: min over both sides"),
    # the SLA's, and those of rule values that may be out of play
    Variable(
        "insurance_pool",
        "day",
        "USD",
        "insurance pool: penalties and forfeited fees",
        made_by=(*SLA, EXIT_PENALTY),
    ),
    Variable(
        "fee_accrued", "lp", "USD d-1", "fees accrued to the LP's fee account (SLA)", made_by=SLA
    ),
    Variable(
        "liquidity_score",
        "lp",
        "1",
        "volume-weighted probability of trading of the LP's book",
        made_by=SCORED,
    ),
    Variable(
        "meets_commitment",
        "lp",
        "1",
        "book meets the commitment (SLA)",
        dtype="bool",
        made_by=SLA,
    ),
    Variable("time_on_book", "epoch", "1", "share of the epoch on the book (SLA)", made_by=SLA),
    Variable("sla_fee_penalty", "epoch", "1", "fee penalty with hysteresis (SLA)", made_by=SLA),
    Variable("fee_payout", "epoch", "USD", "fees paid out at the epoch's end (SLA)", made_by=SLA),
    Variable(
        "sla_bonus", "epoch", "USD", "performance bonus at the epoch's end (SLA)", made_by=SLA
    ),
    Variable("bond_penalty", "epoch", "USD", "bond slashed at the epoch's end (SLA)", made_by=SLA),
    Variable(
        "early_exit_penalty",
        "epoch",
        "USD",
        "penalty for leaving below target stake",
        made_by=(*SLA, EXIT_PENALTY),
    ),
    Variable(
        "active_lps", "day", "1", "number of LPs with stake > 0", dtype="int32", made_by=HURDLE
    ),
    Variable(
        "decision",
        "lp",
        "1",
        "hurdle LP's decision at the day's start: +1 asked to enter, -1 asked to leave, 0 none",
        dtype="int8",
        made_by=HURDLE,
    ),
]

VARIABLES: dict[str, Variable] = {v.name: v for v in _VARIABLES}
OUTPUTS: tuple[str, ...] = tuple(VARIABLES)
PER_DAY: tuple[str, ...] = tuple(v.name for v in _VARIABLES if v.scope == "day")
PER_LP_DAY: tuple[str, ...] = tuple(v.name for v in _VARIABLES if v.scope == "lp")
PER_EPOCH: tuple[str, ...] = tuple(v.name for v in _VARIABLES if v.scope == "epoch")
PER_LP: tuple[str, ...] = PER_LP_DAY + PER_EPOCH  # variables with an lp dimension
PATH_SERIES: tuple[str, ...] = tuple(v.name for v in _VARIABLES if v.scope == "path")
RISK_FACTORS: tuple[str, ...] = tuple(v.name for v in _VARIABLES if v.scope == "risk")

STATISTICS: tuple[str, ...] = ("mean", "final", "min", "max")

DAY_SHARES: dict[str, Variable] = {
    "under_supplied": Variable("under_supplied_share", "day", "1", "share of days under-supplied"),
}
"""Summary-only variables, by the boolean per-day output they summarise: the share of days on
which it holds (its ``mean`` over days), kept beside its statistics in a summary result."""
SHARE_OF: dict[str, str] = {share.name: name for name, share in DAY_SHARES.items()}
"""The per-day output each of :data:`DAY_SHARES` summarises, by the share's name."""


def in_play(name: str, rules: dict[str, tuple]) -> bool:
    """Whether some scenario of a sweep makes output ``name``: a rule value that makes it is
    among ``rules`` (every rule key's values in the sweep, ``sweep.engine.plan.rules_in_play``)."""
    made_by = VARIABLES[name].made_by
    return not made_by or any(value in rules.get(key, ()) for key, value in made_by)
