"""The engine's stages: which steps of the mechanism run over which sweep dimensions.

A stage is one kernel of :mod:`sweep.mechanism.kernels`, declared once here with what it reads:
parameters, the market path, other stages, and a rule key whose values may read more
(:mod:`sweep.mechanism.rules`). From those declarations and a config, :func:`resolve` gives each
stage its *axes*: the sweep dimensions it depends on. A chunk then runs each stage once per
combination of its axes (``sweep.compute``), and each result variable carries exactly the
dimensions of the stage that computes it: in a ``v`` x ``k`` grid the margin stage has no ``v``
axis, the commitments stage none at all.

Axes are positions in the scenario grid: ``0..n-1`` the config's sweep dimensions, ``n`` the
Monte Carlo path axis. The market path is the swept ``[path]`` keys plus that axis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .mechanism import kernels
from .mechanism.rules import RULES

# parameters computed from others: read them and you depend on these
DERIVED = {
    "rf_long": ("mu", "sigma", "tau", "lambd"),
    "rf_short": ("mu", "sigma", "tau", "lambd"),
}


class Context(Protocol):
    """What a stage's driver sees of its chunk (``sweep.compute.ChunkContext``)."""

    n: int  # combinations of the stage's axes in the chunk
    n_days: int
    n_lp: int

    def param(self, key: str) -> np.ndarray: ...  # (n,) per combination
    def rows(self, stage: str) -> np.ndarray: ...  # (n,) rows of that stage's arrays
    def input(self, stage: str) -> dict[str, np.ndarray] | None: ...  # None: not computed
    def path_rows(self) -> np.ndarray: ...  # (n,) rows of the chunk's market paths
    def group(self, keys: Iterable[str], path: bool) -> np.ndarray: ...  # (n,) ids
    def series(self, name: str) -> np.ndarray: ...  # (P, D) market series of the chunk
    @property
    def events(self) -> kernels.Events: ...
    @property
    def shapes(self) -> kernels.Shapes: ...
    @property
    def given_fee_rate(self) -> np.ndarray: ...


@dataclass(frozen=True)
class Stage:
    """One kernel and what it reads; ``outputs`` are the result variables it computes."""

    name: str
    run: Callable[[Context], dict[str, np.ndarray]]
    outputs: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()
    path: bool = False
    rule: str | None = None
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


def _empty(ctx: Context, *lp: int, dtype: Any = np.float64) -> np.ndarray:
    return np.empty((ctx.n, ctx.n_days, *lp), dtype=dtype)


# --- the drivers: arrays in, one kernel call, arrays out --------------------------------------
def _commitments(ctx: Context) -> dict[str, np.ndarray]:
    out = {
        "stake": _empty(ctx, ctx.n_lp),
        "fee_bid": _empty(ctx, ctx.n_lp),
        "total_stake": _empty(ctx),
        "stake_share": _empty(ctx, ctx.n_lp),
    }
    ladder = kernels.Ladder(
        _empty(ctx, ctx.n_lp, dtype=np.int64),
        _empty(ctx, ctx.n_lp),
        _empty(ctx, ctx.n_lp),
        _empty(ctx, dtype=np.int64),
    )
    kernels.commitment_rows(
        ctx.events, out["stake"], out["fee_bid"], out["total_stake"], out["stake_share"], ladder
    )
    out.update(zip(ladder._fields, ladder, strict=True))
    return out


def _valuation(ctx: Context) -> dict[str, np.ndarray]:
    commit = ctx.input("commitments")
    out = {"window_sum": _empty(ctx), "proxy": _empty(ctx), "valuation": _empty(ctx)}
    kernels.valuation_rows(
        ctx.series("traded_volume"), ctx.path_rows(), ctx.param("valuation_period"),
        commit["total_stake"], ctx.rows("commitments"),
        out["window_sum"], out["proxy"], out["valuation"],
    )  # fmt: skip
    return out


def _max_open_interest(ctx: Context) -> dict[str, np.ndarray]:
    out = _empty(ctx)
    kernels.max_open_interest_rows(
        ctx.param("target_price"), ctx.series("open_interest"), ctx.series("mark_price"),
        ctx.path_rows(), ctx.param("stake_target_period"), out,
    )  # fmt: skip
    return {"max_open_interest": out}


def _target_stake(ctx: Context) -> dict[str, np.ndarray]:
    out = _empty(ctx)
    kernels.target_stake_rows(
        ctx.param("risk_factor"), ctx.input("max_open_interest")["max_open_interest"],
        ctx.rows("max_open_interest"), ctx.param("c2"), ctx.param("v"), ctx.param("rf_long"),
        ctx.param("rf_short"), out,
    )  # fmt: skip
    return {"target_stake": out}


def _fee_rate(ctx: Context) -> dict[str, np.ndarray]:
    commit = ctx.input("commitments")
    target = ctx.input("target_stake")
    if target is None:  # no fee rule in play reads it
        target_values, target_rows = np.zeros((1, ctx.n_days)), np.zeros(ctx.n, np.int64)
    else:
        target_values, target_rows = target["target_stake"], ctx.rows("target_stake")
    ladder = kernels.Ladder(*(commit[name] for name in kernels.Ladder._fields))
    out = _empty(ctx)
    kernels.fee_rate_rows(
        ctx.param("fee_rule"), target_values, target_rows, ladder, commit["fee_bid"],
        ctx.rows("commitments"), ctx.given_fee_rate, out,
    )  # fmt: skip
    return {"fee_rate": out}


def _fees(ctx: Context) -> dict[str, np.ndarray]:
    out = {"fees_collected": _empty(ctx), "annualised_return": _empty(ctx)}
    kernels.fees_rows(
        ctx.input("fee_rate")["fee_rate"], ctx.rows("fee_rate"), ctx.series("traded_volume"),
        ctx.path_rows(), ctx.input("commitments")["total_stake"], ctx.rows("commitments"),
        out["fees_collected"], out["annualised_return"],
    )  # fmt: skip
    return out


def _split_weights(ctx: Context) -> dict[str, np.ndarray]:
    valuation = ctx.input("valuation")
    if valuation is None:  # no share rule in play reads it
        zeros = np.zeros((1, ctx.n_days))
        valuation = {"proxy": zeros, "valuation": zeros, "window_sum": zeros}
        valuation_rows = np.zeros(ctx.n, np.int64)
    else:
        valuation_rows = ctx.rows("valuation")
    out = {"equity": _empty(ctx, ctx.n_lp), "equity_share": _empty(ctx, ctx.n_lp)}
    kernels.split_weight_rows(
        ctx.param("share_rule"), ctx.events, valuation["proxy"], valuation["valuation"],
        valuation["window_sum"], valuation_rows, ctx.input("commitments")["total_stake"],
        ctx.rows("commitments"), ctx.param("valuation_period"), ctx.param("steepness"),
        ctx.param("midpoint"), ctx.param("days_per_year"), out["equity"], out["equity_share"],
    )  # fmt: skip
    return out


def _revenue(ctx: Context) -> dict[str, np.ndarray]:
    out = {"fee_revenue": _empty(ctx, ctx.n_lp), "lp_annualised_return": _empty(ctx, ctx.n_lp)}
    kernels.revenue_rows(
        ctx.input("fees")["fees_collected"], ctx.rows("fees"),
        ctx.input("split_weights")["equity_share"], ctx.rows("split_weights"),
        ctx.input("commitments")["stake"], ctx.rows("commitments"),
        out["fee_revenue"], out["lp_annualised_return"],
    )  # fmt: skip
    return out


BOOK = ("tick_size", "num_ticks", "mu", "sigma", "tau")  # with the path: one order book


def _orders(ctx: Context) -> dict[str, np.ndarray]:
    book = ctx.group(BOOK, path=True)
    order = np.argsort(book, kind="stable").astype(np.int64)  # combinations sharing a book
    out = {name: _empty(ctx, ctx.n_lp) for name in ("pegged_buy", "pegged_sell")}
    out["supplied_liquidity"] = _empty(ctx, ctx.n_lp)
    kernels.order_rows(
        order, ctx.series("mark_price"), ctx.path_rows(), book, ctx.param("tick_size"),
        ctx.param("num_ticks"), ctx.param("mu"), ctx.param("sigma"), ctx.param("tau"),
        ctx.param("shape_row"), ctx.shapes, ctx.param("k"), ctx.input("commitments")["stake"],
        ctx.rows("commitments"), out["pegged_buy"], out["pegged_sell"],
        out["supplied_liquidity"],
    )  # fmt: skip
    return out


def _obligation(ctx: Context) -> dict[str, np.ndarray]:
    out = _empty(ctx, ctx.n_lp)
    kernels.obligation_rows(
        ctx.param("k"), ctx.input("commitments")["stake"], ctx.rows("commitments"), out
    )
    return {"obligation": out}


def _margin_sides(ctx: Context) -> dict[str, np.ndarray]:
    orders = ctx.input("orders")
    out = {"margin_buy": _empty(ctx, ctx.n_lp), "margin_sell": _empty(ctx, ctx.n_lp)}
    kernels.margin_side_rows(
        ctx.param("margin_orders"), orders["pegged_buy"], orders["pegged_sell"],
        ctx.rows("orders"), ctx.input("commitments")["stake"], ctx.rows("commitments"),
        ctx.series("mark_price"), ctx.path_rows(), ctx.param("rf_long"), ctx.param("rf_short"),
        ctx.shapes, ctx.param("shape_row"), ctx.param("num_ticks"),
        out["margin_buy"], out["margin_sell"],
    )  # fmt: skip
    return out


def _margin(ctx: Context) -> dict[str, np.ndarray]:
    sides = ctx.input("margin_sides")
    out = {"margin": _empty(ctx, ctx.n_lp), "total_margin": _empty(ctx)}
    kernels.margin_rows(
        ctx.param("margin_rule"), sides["margin_buy"], sides["margin_sell"],
        ctx.rows("margin_sides"), out["margin"], out["total_margin"],
    )  # fmt: skip
    return out


def _return_on_capital(ctx: Context) -> dict[str, np.ndarray]:
    out = _empty(ctx)
    kernels.return_on_capital_rows(
        ctx.input("fees")["fees_collected"], ctx.rows("fees"),
        ctx.input("target_stake")["target_stake"], ctx.rows("target_stake"),
        ctx.input("margin")["total_margin"], ctx.rows("margin"), out,
    )  # fmt: skip
    return {"annualised_return_on_capital": out}


def _supply(ctx: Context) -> dict[str, np.ndarray]:
    out = {"supply_ratio": _empty(ctx), "under_supplied": _empty(ctx, dtype=np.bool_)}
    kernels.supply_rows(
        ctx.input("target_stake")["target_stake"], ctx.rows("target_stake"),
        ctx.input("commitments")["total_stake"], ctx.rows("commitments"),
        out["supply_ratio"], out["under_supplied"],
    )  # fmt: skip
    return out


STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage(
            "commitments", _commitments, outputs=("stake", "fee_bid", "total_stake", "stake_share"),
            width=(2, 6), cost=(10.0, 10.0),
        ),
        Stage(
            "valuation", _valuation, outputs=("valuation",), params=("valuation_period",),
            steps=("commitments",), path=True, width=(3, 0), cost=(20.0, 0.0),
        ),  # fmt: skip
        Stage(
            "max_open_interest", _max_open_interest, params=("stake_target_period",), path=True,
            rule="target_price", width=(1, 0), cost=(10.0, 0.0),
        ),  # fmt: skip
        Stage(
            "target_stake", _target_stake, outputs=("target_stake",), params=("c2", "v"),
            steps=("max_open_interest",), rule="risk_factor", width=(1, 0), cost=(3.0, 0.0),
        ),  # fmt: skip
        Stage(
            "fee_rate", _fee_rate, outputs=("fee_rate",), steps=("commitments",),
            rule="fee_rule", width=(1, 0), cost=(40.0, 0.0),
        ),  # fmt: skip
        Stage(
            "fees", _fees, outputs=("fees_collected", "annualised_return"),
            steps=("fee_rate", "commitments"), path=True, width=(2, 0), cost=(6.0, 0.0),
        ),  # fmt: skip
        Stage(
            "split_weights", _split_weights, outputs=("equity", "equity_share"),
            steps=("commitments",), rule="share_rule", width=(0, 2), cost=(20.0, 40.0),
        ),  # fmt: skip
        Stage(
            "revenue", _revenue, outputs=("fee_revenue", "lp_annualised_return"),
            steps=("fees", "split_weights", "commitments"), width=(0, 2), cost=(2.0, 8.0),
        ),  # fmt: skip
        Stage(
            "orders", _orders, outputs=("supplied_liquidity",), params=("k", *BOOK),
            steps=("commitments",), path=True, width=(0, 3), cost=(100.0, 25.0),
        ),  # fmt: skip
        Stage("obligation", _obligation, outputs=("obligation",), params=("k",),
              steps=("commitments",), width=(0, 1), cost=(1.0, 2.0)),  # fmt: skip
        Stage(
            "margin_sides", _margin_sides, outputs=("margin_buy", "margin_sell"),
            params=("rf_long", "rf_short"), steps=("orders", "commitments"), path=True,
            rule="margin_orders", cost=(2.0, 4.0),
        ),  # fmt: skip
        Stage(
            "margin", _margin, outputs=("margin", "total_margin"), steps=("margin_sides",),
            rule="margin_rule", width=(1, 1), cost=(2.0, 3.0),
        ),  # fmt: skip
        Stage(
            "return_on_capital", _return_on_capital, outputs=("annualised_return_on_capital",),
            steps=("fees", "target_stake", "margin"), width=(1, 0), cost=(5.0, 0.0),
        ),  # fmt: skip
        Stage(
            "supply", _supply, outputs=("supply_ratio", "under_supplied"),
            steps=("target_stake", "commitments"), width=(2, 0), cost=(5.0, 0.0),
        ),  # fmt: skip
    )
}

STAGE_OF: dict[str, str] = {name: s.name for s in STAGES.values() for name in s.outputs}
"""The stage that computes each result variable."""


def rule_params(stage: Stage) -> frozenset[str]:
    """Parameters that only some values of the stage's rule read."""
    if stage.rule is None:
        return frozenset()
    return frozenset(p for reads in RULES[stage.rule].values.values() for p in reads.params)


@dataclass(frozen=True)
class Resolved:
    """The stages of one sweep: each one's axes and the stages it reads (rules in play)."""

    axes: dict[str, tuple[int, ...]]
    reads: dict[str, tuple[str, ...]]

    def needed(self, outputs: Iterable[str]) -> list[str]:
        """The stages that computing ``outputs`` takes, in the order they run."""
        todo = [STAGE_OF[name] for name in outputs]
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(self.reads[name])
        return [name for name in STAGES if name in seen]


def resolve(
    param_axes: dict[str, int], path_axes: tuple[int, ...], rules_in_play: dict[str, tuple]
) -> Resolved:
    """Each stage's axes under a config.

    ``param_axes``: the grid axis of every swept non-path key; ``path_axes``: the axes of the
    market path; ``rules_in_play``: every rule key's values in the sweep.
    """

    def axes_of(keys: Iterable[str]) -> set[int]:
        out: set[int] = set()
        for key in keys:
            for base in DERIVED.get(key, (key,)):
                if base in param_axes:
                    out.add(param_axes[base])
        return out

    axes: dict[str, tuple[int, ...]] = {}
    reads: dict[str, tuple[str, ...]] = {}
    for stage in STAGES.values():  # declared in an order where every stage follows its inputs
        own = axes_of(stage.params)
        steps = list(stage.steps)
        path = stage.path
        if stage.rule is not None:
            own |= axes_of((stage.rule,))
            for value in rules_in_play[stage.rule]:
                value_reads = RULES[stage.rule].values[value]
                own |= axes_of(value_reads.params)
                steps += [s for s in value_reads.steps if s not in steps]
                path = path or value_reads.path
        if path:
            own |= set(path_axes)
        for step in steps:
            own |= set(axes[step])
        axes[stage.name] = tuple(sorted(own))
        reads[stage.name] = tuple(steps)
    return Resolved(axes, reads)
