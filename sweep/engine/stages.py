"""The engine's stages: which steps of the mechanism run over which sweep dimensions.

A stage is one kernel of :mod:`sweep.mechanism.kernels`, declared once here with what it reads:
parameters, the market path, other stages, the rule keys it branches on (whose values may read
more, :mod:`sweep.mechanism.rules`), reads that apply only while some rule value is in play
(``when``; ``("sla", "on")`` where the SLA is on somewhere in the sweep); each stage's driver
(:mod:`sweep.engine.drivers`) calls its kernel. From those declarations and a config,
``sweep.engine.resolve.resolve`` gives each stage its *axes*: the sweep dimensions it depends
on. A chunk then runs each stage once per combination of its axes (``sweep.engine.chunk``),
and each result variable carries exactly the dimensions of the stage that computes it: in a
``v`` x ``k`` grid the margin stage has no ``v`` axis, the commitments stage none at all. An
output whose mechanism is not in play (``Variable.made_by``: the SLA's, in a sweep without it)
is not made at all.

Axes are positions in the scenario grid: ``0..n-1`` the config's sweep dimensions, ``n`` the
Monte Carlo path axis. The market path is the swept ``[path]`` keys plus that axis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..mechanism.rules import RULES, Reads
from . import drivers
from .drivers import BOOK, SLA_BOOK, Context


@dataclass(frozen=True)
class Stage:
    """One kernel and what it reads; ``outputs`` are the result variables it computes."""

    name: str
    run: Callable[[Context], dict[str, np.ndarray]]
    outputs: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()
    path: bool = False
    rules: tuple[str, ...] = ()  # rule keys it branches on: their values' reads are its own
    # more reads while a rule value (or ("sla", "on")) is in play, not the rule's dimension
    when: tuple[tuple[str, str, Reads], ...] = ()
    # arrays it keeps per combination: (over days, over days and LPs), for memory estimates
    width: tuple[int, int] = (1, 2)
    # rough nanoseconds per combination and day, per LP where the stage loops over LPs: what
    # the chunking weighs when it decides which scenarios to keep together
    cost: tuple[float, float] = (5.0, 3.0)

    def bytes_per_combination(self, n_days: int, n_lp: int) -> int:
        return 8 * n_days * (self.width[0] + self.width[1] * n_lp)

    def nanoseconds_per_combination(self, n_days: int, n_lp: int, n_ticks: int) -> float:
        per_lp = self.cost[1] * (n_ticks if self.name == "orders" else 1)
        return n_days * (self.cost[0] + per_lp * n_lp)


SLA_ON = ("sla", "on")  # the SLA in play: [mechanism] sla = "on" somewhere

STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage(
            "max_open_interest",
            drivers.max_open_interest,
            params=("stake_target_period",),
            path=True,
            rules=("target_price",),
            width=(1, 0),
            cost=(10.0, 0.0),
        ),  # fmt: skip
        Stage(
            "target_stake",
            drivers.target_stake,
            outputs=("target_stake",),
            params=("c2", "v"),
            steps=("max_open_interest",),
            rules=("risk_factor",),
            width=(1, 0),
            cost=(3.0, 0.0),
        ),  # fmt: skip
        Stage(
            "commitments",
            drivers.commitments,
            outputs=(
                "stake",
                "fee_bid",
                "total_stake",
                "stake_share",
                "meets_commitment",
                "time_on_book",
                "bond_penalty",
                "early_exit_penalty",
            ),
            rules=("exit_rule", "sla"),
            when=(
                (
                    *SLA_ON,
                    Reads(
                        "the SLA: epochs, each day's books against the commitment, bond slashes",
                        params=(
                            "commitment_min_time_fraction",
                            "epoch_days",
                            "bond_penalty_slope",
                            "bond_penalty_max",
                            *SLA_BOOK,
                        ),
                        path=True,
                    ),
                ),
            ),
            width=(2, 6),
            cost=(10.0, 10.0),
        ),  # fmt: skip
        Stage(
            "valuation",
            drivers.valuation,
            outputs=("valuation",),
            params=("valuation_period",),
            steps=("commitments",),
            path=True,
            width=(3, 0),
            cost=(20.0, 0.0),
        ),  # fmt: skip
        Stage(
            "fee_rate",
            drivers.fee_rate,
            outputs=("fee_rate",),
            steps=("commitments",),
            rules=("fee_rule",),
            width=(1, 0),
            cost=(40.0, 0.0),
        ),  # fmt: skip
        Stage(
            "fees",
            drivers.fees,
            outputs=("fees_collected", "annualised_return"),
            steps=("fee_rate", "commitments"),
            path=True,
            width=(2, 0),
            cost=(6.0, 0.0),
        ),  # fmt: skip
        Stage(
            "split_weights",
            drivers.split_weights,
            outputs=("equity", "equity_share"),
            steps=("commitments",),
            rules=("share_rule",),
            width=(0, 2),
            cost=(20.0, 40.0),
        ),  # fmt: skip
        Stage(
            "orders",
            drivers.orders,
            outputs=("supplied_liquidity",),
            params=("k", *BOOK, "min_probability"),
            steps=("commitments",),
            path=True,
            rules=("volume_rule", "low_probability"),
            when=(
                (
                    "liquidity_score",
                    "probability",
                    Reads("the books' score", params=("price_range",)),
                ),
            ),
            width=(0, 4),
            cost=(100.0, 25.0),
        ),  # fmt: skip
        Stage(
            "obligation",
            drivers.obligation,
            outputs=("obligation",),
            params=("k",),
            steps=("commitments",),
            width=(0, 1),
            cost=(1.0, 2.0),
        ),  # fmt: skip
        Stage(
            "margin_sides",
            drivers.margin_sides,
            outputs=("margin_buy", "margin_sell"),
            params=("rf_long", "rf_short"),
            steps=("orders", "commitments"),
            path=True,
            rules=("margin_orders",),
            cost=(2.0, 4.0),
        ),  # fmt: skip
        Stage(
            "margin",
            drivers.margin,
            outputs=("margin", "total_margin"),
            steps=("margin_sides",),
            rules=("margin_rule",),
            width=(1, 1),
            cost=(2.0, 3.0),
        ),  # fmt: skip
        Stage(
            "revenue",
            drivers.revenue,
            outputs=(
                "fee_revenue",
                "lp_annualised_return",
                "fee_accrued",
                "insurance_pool",
                "sla_fee_penalty",
                "fee_payout",
                "sla_bonus",
                "liquidity_score",
            ),
            steps=("fees", "split_weights", "commitments"),
            rules=("liquidity_score", "sla"),
            when=(
                (
                    *SLA_ON,
                    Reads(
                        "fee accounts settled at each epoch's end",
                        params=(
                            "commitment_min_time_fraction",
                            "competition_factor",
                            "performance_hysteresis_epochs",
                            "epoch_days",
                        ),
                    ),
                ),
            ),
            width=(1, 3),
            cost=(2.0, 8.0),
        ),  # fmt: skip
        Stage(
            "return_on_capital",
            drivers.return_on_capital,
            outputs=("annualised_return_on_capital",),
            steps=("fees", "target_stake", "margin"),
            width=(1, 0),
            cost=(5.0, 0.0),
        ),  # fmt: skip
        Stage(
            "supply",
            drivers.supply,
            outputs=("supply_ratio", "under_supplied"),
            steps=("target_stake", "commitments"),
            width=(2, 0),
            cost=(5.0, 0.0),
        ),  # fmt: skip
        Stage(
            "decisions",
            drivers.decisions,
            outputs=("active_lps", "decision"),
            steps=("commitments", "fee_rate", "revenue"),
            # the decisions, and what they read that the commitments keep for them (each
            # day's stakes and waiting requests before its events)
            width=(1, 3),
            cost=(5.0, 5.0),
        ),  # fmt: skip
    )
}

STAGE_OF: dict[str, str] = {name: s.name for s in STAGES.values() for name in s.outputs}
"""The stage that computes each result variable."""


def rule_params(stage: Stage) -> frozenset[str]:
    """Parameters that only some rule values (or the SLA) read: without them in play, any
    value will do."""
    out = {p for key in stage.rules for reads in RULES[key].values.values() for p in reads.params}
    out |= {p for _, _, reads in stage.when for p in reads.params}
    return frozenset(out)
