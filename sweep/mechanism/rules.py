"""The rule registry: every rule key, its values, their codes and what each value reads.

One table that config checking (which values exist), the kernels' dispatch (the integer code of
a value is its position here), the result's coordinates (values by name) and the README's rule
tables all read. A rule value declares what it reads beyond its step's own inputs: parameters
(``params``), other steps (``steps``) and whether it reads the market path (``path``). The
engine turns that into each result variable's dimensions: a variable keeps a sweep dimension
only if some rule value in play reads it.

Adding a rule value is one entry here, one branch in its step (``sweep.mechanism``) and the
reference model's branch in ``tests/reference_model.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reads:
    """What one rule value reads, besides its step's own inputs."""

    doc: str
    params: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()
    path: bool = False


@dataclass(frozen=True)
class Rule:
    """A rule key: the step it chooses the computation of, and its values (first = default)."""

    key: str
    step: str
    values: dict[str, Reads] = field(default_factory=dict)
    doc: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.values)

    @property
    def default(self) -> str:
        return next(iter(self.values))

    def code(self, name: str) -> int:
        """The kernels' integer code of a value: its position in the registry."""
        return self.names.index(name)


RULES: dict[str, Rule] = {
    rule.key: rule
    for rule in (
        Rule(
            "share_rule",
            step="split_weights",
            doc="how fees are split between LPs (step 7)",
            values={
                "equity": Reads(
                    "equity-like shares: entry valuation vs today's",
                    steps=("valuation",),
                ),
                "stake": Reads("pro rata to stake"),
                "virtual_stake": Reads(
                    "Vega spec 0042-LIQF: stake grown with average-volume growth per "
                    "valuation period",
                    params=("valuation_period",),
                    steps=("valuation",),
                ),
                "time_weighted": Reads(
                    "the liquidity paper: sigmoid weight of each tranche's age",
                    params=("steepness", "midpoint", "days_per_year"),
                ),
                "entry_valuation": Reads(
                    "Vega spec 0042 (2021): one average entry valuation per LP",
                    steps=("valuation",),
                ),
            },
        ),
        Rule(
            "fee_rule",
            step="fee_rate",
            doc="the liquidity fee rate of a day (step 5)",
            values={
                "marginal": Reads(
                    "the bid of the LP whose stake reaches the target",
                    steps=("target_stake",),
                ),
                "weighted": Reads(
                    "stake-weighted mean bid of all active LPs (Vega spec 0042-LIQF)"
                ),
                "given": Reads("the `fee_rate` series"),
            },
        ),
        Rule(
            "risk_factor",
            step="target_stake",
            doc="the risk factor of the target stake (step 4)",
            values={
                "short": Reads("`rf_short` (the old tools)", params=("rf_short",)),
                "max": Reads(
                    "`max(rf_long, rf_short)`, 0 if negative (Vega spec 0041-TSTK and core)",
                    params=("rf_long", "rf_short"),
                ),
            },
        ),
        Rule(
            "target_price",
            step="max_open_interest",
            doc="the open interest the target stake scales (step 4)",
            values={
                "window": Reads("the maximum open interest (notional) over the window"),
                "mark": Reads(
                    "today's mark price times the window's maximum open interest in contracts "
                    "(Vega)"
                ),
            },
        ),
        Rule(
            "volume_rule",
            step="orders",
            doc="the pegged volume that meets the obligation (step 9)",
            values={
                "probability": Reads("probability-weighted notional (the old tools, Vega 2021)"),
                "notional": Reads("plain notional on the book (Vega today)"),
            },
        ),
        Rule(
            "low_probability",
            step="orders",
            doc="levels at most `min_probability` likely to trade (step 9)",
            values={
                "drop": Reads("get no pegged volume (the old tools)"),
                "clip": Reads(
                    "their pegged order moves to where the probability is `min_probability` "
                    "(Vega spec 0038, 2021)"
                ),
            },
        ),
        Rule(
            "margin_orders",
            step="margin_sides",
            doc="the orders an LP's margin counts (step 9)",
            values={
                "pegged": Reads("pegged volume only (the old tools)"),
                "all": Reads(
                    "limit orders too, as Vega's margin calculator (spec 0019-MCAL)",
                    params=("num_ticks",),
                ),
            },
        ),
        Rule(
            "margin_rule",
            step="margin",
            doc="an LP's margin from its two sides (step 9)",
            values={
                "max": Reads("the larger of the buy and sell side's margin"),
                "sum": Reads("both sides' margin (the old code's)"),
            },
        ),
        Rule(
            "liquidity_score",
            step="revenue",
            doc="what the fee split weighs besides the share (step 8)",
            values={
                "none": Reads("the share alone"),
                "probability": Reads(
                    "the share and the book's volume-weighted probability of trading (Vega today)",
                    params=("els_fee_fraction", "price_range"),
                    steps=("orders",),
                ),
            },
        ),
        Rule(
            "exit_rule",
            step="commitments",
            doc="when and at what cost stake can be withdrawn",
            values={
                "free": Reads("decreases apply on their day (the old tools)"),
                "reject_below_target": Reads(
                    "a decrease that would leave total stake below target is ignored (Vega 2021)",
                    steps=("target_stake",),
                ),
                "penalty": Reads(
                    "decreases wait for the next epoch and pay the early-exit penalty below "
                    "target (Vega spec 0044-LIME)",
                    params=("epoch_days", "early_exit_penalty"),
                    steps=("target_stake",),
                ),
            },
        ),
        Rule(
            "sla",
            step="commitments",
            doc="Vega's service-level agreement: epochs, time on book, penalties, bonuses",
            values={
                "off": Reads("fees paid out every day, no epochs (the old tools, Vega 2021)"),
                "on": Reads(
                    "Vega today (specs 0042-LIQF, 0044-LIME, core v0.7x): commitments move at "
                    "epoch starts, fees accrue and are settled by time on book; `[sla]` keys",
                ),
            },
        ),
    )
}


def code(key: str, value: str) -> int:
    """The integer code of rule ``key``'s value ``value``."""
    return RULES[key].code(value)


# the kernels branch on these constants (compile-time integers), read off the registry's order
SHARE_EQUITY = code("share_rule", "equity")
SHARE_STAKE = code("share_rule", "stake")
SHARE_VIRTUAL = code("share_rule", "virtual_stake")
SHARE_TIME_WEIGHTED = code("share_rule", "time_weighted")
SHARE_ENTRY_VALUATION = code("share_rule", "entry_valuation")
FEE_MARGINAL = code("fee_rule", "marginal")
FEE_WEIGHTED = code("fee_rule", "weighted")
FEE_GIVEN = code("fee_rule", "given")
MARGIN_MAX = code("margin_rule", "max")
MARGIN_SUM = code("margin_rule", "sum")
RISK_SHORT = code("risk_factor", "short")
RISK_MAX = code("risk_factor", "max")
PRICE_WINDOW = code("target_price", "window")
PRICE_MARK = code("target_price", "mark")
ORDERS_PEGGED = code("margin_orders", "pegged")
ORDERS_ALL = code("margin_orders", "all")
VOLUME_PROBABILITY = code("volume_rule", "probability")
VOLUME_NOTIONAL = code("volume_rule", "notional")
LOW_DROP = code("low_probability", "drop")
LOW_CLIP = code("low_probability", "clip")
SCORE_NONE = code("liquidity_score", "none")
SCORE_PROBABILITY = code("liquidity_score", "probability")
EXIT_FREE = code("exit_rule", "free")
EXIT_REJECT = code("exit_rule", "reject_below_target")
EXIT_PENALTY = code("exit_rule", "penalty")
SLA_OFF = code("sla", "off")
SLA_ON = code("sla", "on")

# the [sla] keys; each acts only where sla = "on", except those listed in SLA_KEYS_ALSO_READ_BY
SLA_PARAMS = (
    "commitment_min_time_fraction", "competition_factor", "performance_hysteresis_epochs",
    "price_range", "epoch_days", "bond_penalty_slope", "bond_penalty_max", "early_exit_penalty",
)  # fmt: skip
# [sla] keys that other rule values read too: (rule key, value) pairs
SLA_KEYS_ALSO_READ_BY: dict[str, tuple[tuple[str, str], ...]] = {
    "epoch_days": (("exit_rule", "penalty"),),
    "early_exit_penalty": (("exit_rule", "penalty"),),
    "price_range": (("liquidity_score", "probability"),),
}


def markdown_table() -> str:
    """The README's table of rules and their values, rendered from this registry."""
    lines = ["| rule | step | values (first = default) |", "|---|---|---|"]
    for rule in RULES.values():
        values = "; ".join(f"`{name}`: {reads.doc}" for name, reads in rule.values.items())
        lines.append(f"| `{rule.key}` | {rule.doc} | {values} |")
    return "\n".join(lines)
