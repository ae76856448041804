"""The stages' drivers: arrays in, one kernel call, arrays out.

Each driver takes one stage's view of its chunk (:class:`Context`), gathers the arrays its
kernel of :mod:`sweep.mechanism.kernels` reads (parameters per combination, the rows of the
input stages' arrays, the market series), allocates its outputs, calls the kernel once and
returns the outputs by name. What each stage reads, and so which sweep dimensions it has, is
declared in :mod:`sweep.engine.stages`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import numpy as np

from ..mechanism import kernels


class Context(Protocol):
    """What a stage's driver sees of its chunk (``sweep.engine.chunk.ChunkContext``)."""

    n: int  # combinations of the stage's axes in the chunk
    n_days: int
    n_lp: int

    def param(self, key: str) -> np.ndarray: ...  # (n,) per combination
    def rows(self, stage: str) -> np.ndarray: ...  # (n,) rows of that stage's arrays
    def input(self, stage: str) -> dict[str, np.ndarray] | None: ...  # None: not computed
    def path_rows(self) -> np.ndarray: ...  # (n,) rows of the chunk's market paths
    def group(self, keys: Iterable[str], path: bool) -> np.ndarray: ...  # (n,) ids
    def series(self, name: str) -> np.ndarray: ...  # (P, D) market series of the chunk
    def in_play(self, key: str) -> tuple: ...  # the rule's values (or "sla": off/on) in the sweep
    def behaviour(self) -> tuple[np.ndarray, np.ndarray]: ...  # (B, L, NE) time on book, rows
    @property
    def n_epochs(self) -> int: ...  # epochs of the shortest epoch_days in the sweep
    @property
    def events(self) -> kernels.Events: ...
    @property
    def event_span(self) -> np.ndarray: ...  # (n, 2) each combination's [first, stop) events
    @property
    def decides(self) -> bool: ...  # hurdle LPs in play: record what their decisions read
    @property
    def shapes(self) -> kernels.Shapes: ...
    @property
    def given_fee_rate(self) -> np.ndarray: ...


def _empty(ctx: Context, *lp: int, dtype: Any = np.float64) -> np.ndarray:
    return np.empty((ctx.n, ctx.n_days, *lp), dtype=dtype)


BOOK = ("tick_size", "num_ticks", "mu", "sigma", "tau")  # with the path: one order book
ORDER_RULES = ("min_probability", "volume_rule", "low_probability", "price_range")
SLA_BOOK = ("k", *BOOK, *ORDER_RULES)  # what the SLA's daily check of the books reads


def _sla(ctx: Context, *keys: str) -> kernels.Sla:
    """The SLA's parameters a stage reads (``keys``); the others are 0."""
    names = dict(
        on="sla", s="commitment_min_time_fraction", competition="competition_factor",
        hysteresis="performance_hysteresis_epochs", epoch_days="epoch_days",
        slope="bond_penalty_slope", bond_max="bond_penalty_max", early_exit="early_exit_penalty",
    )  # fmt: skip
    ints = ("on", "hysteresis", "epoch_days")
    return kernels.Sla(
        *(
            ctx.param(key) if key in keys else np.zeros(ctx.n, np.int64 if f in ints else float)
            for f, key in names.items()
        )
    )


def _book(ctx: Context, read: bool = True) -> kernels.Book:
    """The order books' parameters; combinations sharing a book run one after the other."""
    keys = ("tick_size", "num_ticks", "mu", "sigma", "tau", *ORDER_RULES, "k", "shape_row")
    if not read:  # no book in play: any values (of the types read ones have), one group
        ints = ("group", "num_ticks", "volume_rule", "low_probability", "shape_row")
        return kernels.Book(
            np.arange(ctx.n, dtype=np.int64),
            *(np.zeros(ctx.n, np.int64 if f in ints else float) for f in kernels.Book._fields[1:]),
        )
    group = ctx.group(BOOK + ORDER_RULES, path=True)
    order = np.argsort(group, kind="stable").astype(np.int64)
    return kernels.Book(order, group, *(ctx.param(key) for key in keys))


def _day_input(ctx: Context, stage: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A per-day input and its rows; zeros when no rule value in play reads that stage."""
    values = ctx.input(stage)
    if values is None:
        return np.zeros((1, ctx.n_days)), np.zeros(ctx.n, np.int64)
    return values[name], ctx.rows(stage)


def commitments(ctx: Context) -> dict[str, np.ndarray]:
    out = kernels.Stakes(
        _empty(ctx, ctx.n_lp), _empty(ctx, ctx.n_lp), _empty(ctx), _empty(ctx, ctx.n_lp),
        _empty(ctx, ctx.n_lp, dtype=np.bool_), _empty(ctx),
    )  # fmt: skip
    ladder = kernels.Ladder(
        _empty(ctx, ctx.n_lp, dtype=np.int64),
        _empty(ctx, ctx.n_lp),
        _empty(ctx, ctx.n_lp),
        _empty(ctx, dtype=np.int64),
    )
    sla_on = "on" in ctx.in_play("sla")
    span = ctx.event_span
    most = int((span[:, 1] - span[:, 0]).max()) if len(span) else 0
    size = most + (ctx.n_lp * ctx.n_epochs if sla_on else 0)
    log = kernels.Log(
        np.zeros((ctx.n, size), np.int64), np.zeros((ctx.n, size)),
        np.zeros((ctx.n, size), np.int64), np.zeros((ctx.n, size)),
        np.zeros((ctx.n, size), np.bool_), np.zeros(ctx.n, np.int64),
    )  # fmt: skip
    per_epoch = (ctx.n, ctx.n_epochs, ctx.n_lp)
    epochs = kernels.Epochs(
        np.empty(per_epoch), np.empty(per_epoch, np.bool_), np.empty(per_epoch),
        np.empty(per_epoch),
    )  # fmt: skip
    target, target_rows = _day_input(ctx, "target_stake", "target_stake")
    if sla_on:
        price, behaviour, behaviour_rows = ctx.series("mark_price"), *ctx.behaviour()
    else:
        price = np.zeros((1, ctx.n_days))
        behaviour = np.ones((1, ctx.n_lp, ctx.n_epochs))
        behaviour_rows = np.zeros(ctx.n, np.int64)
    sla = _sla(ctx, "sla", "commitment_min_time_fraction", "epoch_days", "bond_penalty_slope",
               "bond_penalty_max", "early_exit_penalty")  # fmt: skip
    # the SLA's daily check builds every LP's orders: the orders stage takes them from here
    books = ctx.n if sla_on else 1
    orders = kernels.Orders(*(np.zeros((books, ctx.n_days, ctx.n_lp)) for _ in ORDER_OUTPUTS))
    scored = "probability" in ctx.in_play("liquidity_score")
    # where hurdle LPs decide: each day's stakes and waiting requests before its events
    per_day = (ctx.n, ctx.n_days, ctx.n_lp) if ctx.decides else (0, 0, 0)
    recorded = kernels.Recorded(np.zeros(per_day), np.zeros(per_day))
    inputs = kernels.CommitmentInputs(
        ctx.events, span, ctx.param("exit_rule"), np.full(ctx.n, int(scored), np.int64), target,
        target_rows, price, ctx.path_rows() if sla_on else np.zeros(ctx.n, np.int64), behaviour,
        behaviour_rows,
    )  # fmt: skip
    kernels.commitment_rows(
        inputs, sla, _book(ctx, sla_on), ctx.shapes, out, ladder, log, epochs, orders, recorded
    )
    results = dict(zip(COMMITMENT_OUTPUTS, out, strict=True))
    if ctx.decides:
        results.update(stake_before=recorded.before, requested=recorded.requested)
    if sla_on:
        results.update((f"orders_{name}", v) for name, v in zip(ORDER_OUTPUTS, orders, strict=True))
    results.update(zip(ladder._fields, ladder, strict=True))
    results.update((f"log_{name}", values) for name, values in zip(log._fields, log, strict=True))
    results.update(
        time_on_book=epochs.time_on_book, committed=epochs.committed,
        bond_penalty=epochs.bond, early_exit_penalty=epochs.early_exit,
    )  # fmt: skip
    return results


# ``kernels.Stakes``' fields, by output name
COMMITMENT_OUTPUTS = (
    "stake", "fee_bid", "total_stake", "stake_share", "meets_commitment", "pool_in",
)  # fmt: skip


def valuation(ctx: Context) -> dict[str, np.ndarray]:
    commit = ctx.input("commitments")
    out = kernels.Valuation(_empty(ctx), _empty(ctx), _empty(ctx))
    kernels.valuation_rows(
        ctx.series("traded_volume"), ctx.path_rows(), ctx.param("valuation_period"),
        commit["total_stake"], ctx.rows("commitments"), out,
    )  # fmt: skip
    return out._asdict()


def max_open_interest(ctx: Context) -> dict[str, np.ndarray]:
    out = _empty(ctx)
    kernels.max_open_interest_rows(
        ctx.param("target_price"), ctx.series("open_interest"), ctx.series("mark_price"),
        ctx.path_rows(), ctx.param("stake_target_period"), out,
    )  # fmt: skip
    return {"max_open_interest": out}


def target_stake(ctx: Context) -> dict[str, np.ndarray]:
    out = _empty(ctx)
    kernels.target_stake_rows(
        ctx.param("risk_factor"), ctx.input("max_open_interest")["max_open_interest"],
        ctx.rows("max_open_interest"), ctx.param("c2"), ctx.param("v"), ctx.param("rf_long"),
        ctx.param("rf_short"), out,
    )  # fmt: skip
    return {"target_stake": out}


def fee_rate(ctx: Context) -> dict[str, np.ndarray]:
    commit = ctx.input("commitments")
    target_values, target_rows = _day_input(ctx, "target_stake", "target_stake")
    ladder = kernels.Ladder(*(commit[name] for name in kernels.Ladder._fields))
    out = _empty(ctx)
    kernels.fee_rate_rows(
        ctx.param("fee_rule"), target_values, target_rows, ladder, commit["fee_bid"],
        ctx.rows("commitments"), ctx.given_fee_rate, out,
    )  # fmt: skip
    return {"fee_rate": out}


def fees(ctx: Context) -> dict[str, np.ndarray]:
    out = {"fees_collected": _empty(ctx), "annualised_return": _empty(ctx)}
    kernels.fees_rows(
        ctx.input("fee_rate")["fee_rate"], ctx.rows("fee_rate"), ctx.series("traded_volume"),
        ctx.path_rows(), ctx.input("commitments")["total_stake"], ctx.rows("commitments"),
        out["fees_collected"], out["annualised_return"],
    )  # fmt: skip
    return out


def split_weights(ctx: Context) -> dict[str, np.ndarray]:
    valuation = ctx.input("valuation")
    if valuation is None:  # no share rule in play reads it
        zeros = np.zeros((1, ctx.n_days))
        valuation = {name: zeros for name in kernels.Valuation._fields}
        valuation_rows = np.zeros(ctx.n, np.int64)
    else:
        valuation_rows = ctx.rows("valuation")
    out = kernels.Weights(_empty(ctx, ctx.n_lp), _empty(ctx, ctx.n_lp))
    commit = ctx.input("commitments")
    log = kernels.Log(*(commit[f"log_{name}"] for name in kernels.Log._fields))
    rules = kernels.ShareRules(
        *(ctx.param(key) for key in ("share_rule", "valuation_period", "steepness", "midpoint",
                                     "days_per_year"))
    )  # fmt: skip
    kernels.split_weight_rows(
        rules, log, ctx.rows("commitments"),
        kernels.Valuation(*(valuation[name] for name in kernels.Valuation._fields)),
        valuation_rows, out,
    )  # fmt: skip
    return out._asdict()


def revenue(ctx: Context) -> dict[str, np.ndarray]:
    lp = ctx.n_lp
    sla_on = "on" in ctx.in_play("sla")
    inflows = sla_on or "penalty" in ctx.in_play("exit_rule")
    n_sla = ctx.n if sla_on else 1  # the SLA's outputs: zeros (calloc) where it is off
    out = {
        "fee_revenue": _empty(ctx, lp), "lp_annualised_return": _empty(ctx, lp),
        "fee_accrued": np.zeros((n_sla, ctx.n_days, lp)),
        "insurance_pool": np.zeros((ctx.n if inflows else 1, ctx.n_days)),
    }  # fmt: skip
    for name in ("sla_fee_penalty", "fee_payout", "sla_bonus"):
        out[name] = np.zeros((n_sla, ctx.n_epochs, lp))
    commit = ctx.input("commitments")
    epochs = kernels.Epochs(
        commit["time_on_book"], commit["committed"], commit["bond_penalty"],
        commit["early_exit_penalty"],
    )  # fmt: skip
    # the books' score, where a liquidity score is in play (the orders stage may have run for
    # the margin all the same: its score is then zeros, not worth a copy per combination)
    scored = "probability" in ctx.in_play("liquidity_score")
    if scored:
        score, score_rows = ctx.input("orders")["score"], ctx.rows("orders")
    else:
        score, score_rows = np.zeros((1, ctx.n_days, lp)), np.zeros(ctx.n, np.int64)
    out["liquidity_score"] = np.zeros((ctx.n if scored else 1, ctx.n_days, lp))
    sla = _sla(ctx, "sla", "commitment_min_time_fraction", "competition_factor",
               "performance_hysteresis_epochs", "epoch_days")  # fmt: skip
    inputs = kernels.RevenueInputs(
        ctx.input("fees")["fees_collected"], ctx.rows("fees"),
        ctx.input("split_weights")["equity_share"], ctx.rows("split_weights"),
        commit["stake"], ctx.rows("commitments"), commit["pool_in"], score, score_rows,
    )  # fmt: skip
    split = kernels.FeeSplit(ctx.param("liquidity_score"), ctx.param("els_fee_fraction"))
    kernels.revenue_rows(
        inputs, split, sla, epochs,
        kernels.Revenue(*(out[name] for name in REVENUE_OUTPUTS)),
    )  # fmt: skip
    return out


# ``kernels.Revenue``'s fields, by output name
REVENUE_OUTPUTS = (
    "fee_revenue", "lp_annualised_return", "fee_accrued", "sla_fee_penalty", "fee_payout",
    "sla_bonus", "insurance_pool", "liquidity_score",
)  # fmt: skip


ORDER_OUTPUTS = ("pegged_buy", "pegged_sell", "supplied_liquidity", "score")


def orders(ctx: Context) -> dict[str, np.ndarray]:
    commit = ctx.input("commitments")
    if "orders_pegged_buy" in commit:  # the SLA's check built them: the same numbers
        rows = ctx.rows("commitments")
        same = np.array_equal(rows, np.arange(ctx.n))
        return {name: commit[f"orders_{name}"] if same else commit[f"orders_{name}"][rows]
                for name in ORDER_OUTPUTS}  # fmt: skip
    out = {name: _empty(ctx, ctx.n_lp) for name in ("pegged_buy", "pegged_sell")}
    out["supplied_liquidity"] = _empty(ctx, ctx.n_lp)
    scored = "probability" in ctx.in_play("liquidity_score")  # then every combination's
    out["score"] = np.zeros((ctx.n if scored else 1, ctx.n_days, ctx.n_lp))
    kernels.order_rows(
        _book(ctx), ctx.series("mark_price"), ctx.path_rows(), ctx.shapes,
        ctx.input("commitments")["stake"], ctx.rows("commitments"),
        np.full(ctx.n, int(scored), np.int64),
        kernels.Orders(*(out[name] for name in ORDER_OUTPUTS)),
    )  # fmt: skip
    return out


def obligation(ctx: Context) -> dict[str, np.ndarray]:
    out = _empty(ctx, ctx.n_lp)
    kernels.obligation_rows(
        ctx.param("k"), ctx.input("commitments")["stake"], ctx.rows("commitments"), out
    )
    return {"obligation": out}


def margin_sides(ctx: Context) -> dict[str, np.ndarray]:
    orders = ctx.input("orders")
    out = kernels.MarginSides(_empty(ctx, ctx.n_lp), _empty(ctx, ctx.n_lp))
    rules = kernels.MarginRules(
        *(ctx.param(key) for key in ("margin_orders", "rf_long", "rf_short", "shape_row",
                                     "num_ticks"))
    )  # fmt: skip
    kernels.margin_side_rows(
        rules, kernels.Orders(*(orders[name] for name in ORDER_OUTPUTS)), ctx.rows("orders"),
        ctx.input("commitments")["stake"], ctx.rows("commitments"), ctx.series("mark_price"),
        ctx.path_rows(), ctx.shapes, out,
    )  # fmt: skip
    return {"margin_buy": out.buy, "margin_sell": out.sell}


def margin(ctx: Context) -> dict[str, np.ndarray]:
    sides = ctx.input("margin_sides")
    out = {"margin": _empty(ctx, ctx.n_lp), "total_margin": _empty(ctx)}
    kernels.margin_rows(
        ctx.param("margin_rule"), sides["margin_buy"], sides["margin_sell"],
        ctx.rows("margin_sides"), out["margin"], out["total_margin"],
    )  # fmt: skip
    return out


def return_on_capital(ctx: Context) -> dict[str, np.ndarray]:
    out = _empty(ctx)
    kernels.return_on_capital_rows(
        ctx.input("fees")["fees_collected"], ctx.rows("fees"),
        ctx.input("target_stake")["target_stake"], ctx.rows("target_stake"),
        ctx.input("margin")["total_margin"], ctx.rows("margin"), out,
    )  # fmt: skip
    return {"annualised_return_on_capital": out}


def supply(ctx: Context) -> dict[str, np.ndarray]:
    out = {"supply_ratio": _empty(ctx), "under_supplied": _empty(ctx, dtype=np.bool_)}
    kernels.supply_rows(
        ctx.input("target_stake")["target_stake"], ctx.rows("target_stake"),
        ctx.input("commitments")["total_stake"], ctx.rows("commitments"),
        out["supply_ratio"], out["under_supplied"],
    )  # fmt: skip
    return out


def decisions(ctx: Context) -> dict[str, np.ndarray]:
    """Computed by the chunk's decision loop (``sweep.engine.decide``), which runs
    the stages again as hurdle LPs decide: never a stage run of its own."""
    raise RuntimeError("the decisions stage is run by the chunk's decision loop")
