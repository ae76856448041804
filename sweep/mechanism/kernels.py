"""The loops over (combination, day, LP) that call the steps.

Each kernel computes one stage of the mechanism for ``C`` combinations of the parameters that
stage depends on (``sweep.stages`` decides which): combination ``c`` reads row ``*_row[c]`` of
each input stage's arrays, so work a swept key does not change is done once and read by every
combination that shares it. Outputs are written into arrays the caller owns; scratch space is
allocated once per call, never inside the loops.

Shapes: ``D`` days, ``L`` LPs, ``N`` levels per side, ``E`` commitment events, ``P`` market
paths of the chunk, ``G`` order-shape rows (one per ``num_ticks`` value).
"""

from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np

from .book import BUY as BUY_SIDE
from .book import SELL as SELL_SIDE
from .book import (
    TABLE_ROWS,
    book_model,
    combined_margin,
    day_tables,
    limit_parts,
    limit_volume,
    lp_orders,
    pegged_shares,
    side_in_range,
    side_margin,
)
from .commitments import apply_event, fee_ladder, total_of
from .fees import fee_rates, fees_collected, ladder_runs
from .market import (
    open_interest_in_contracts,
    target_risk_factor,
    target_stake,
    valuation_proxy,
    window_max,
    window_sums,
)
from .outcomes import annualised, supply_ratio
from .rules import (
    EXIT_PENALTY,
    EXIT_REJECT,
    ORDERS_ALL,
    PRICE_WINDOW,
    SCORE_NONE,
    SHARE_ENTRY_VALUATION,
    SHARE_VIRTUAL,
)
from .shares import (
    Holdings,
    Sigmoid,
    Tranches,
    entry_valuation_update,
    fee_weights,
    next_average_volume,
    open_or_scale_tranches,
    share_of,
    split_weight_days,
    virtual_stake_update,
)
from .sla import (
    bond_penalty_fraction,
    early_exit_penalty,
    epoch_end,
    fee_penalty,
    hysteresis_penalty,
    settle_epoch,
)

Events = namedtuple("Events", ["apply_day", "day", "lp", "stake", "fee_bid"])
Events.__doc__ = """Commitment events, in the order they apply: (E,) arrays. ``apply_day`` (int):
the day an event takes effect; ``day``: its possibly fractional day (tranche ages); ``lp`` (int);
``stake``: the LP's new stake; ``fee_bid``: its new bid (NaN keeps the old one)."""

Shapes = namedtuple("Shapes", ["limit_buy", "limit_sell", "fractions_buy", "fractions_sell"])
Shapes.__doc__ = """The LPs' order shapes: (G, L, N) arrays, one row G per ``num_ticks``."""

Ladder = namedtuple("Ladder", ["order", "cumulative_stake", "cumulative_stake_bid", "n_active"])
Ladder.__doc__ = """Step 5's fee ladder of every day: ``order`` (C, D, L) int, its running sums
(C, D, L) float, ``n_active`` (C, D) int (``sweep.mechanism.commitments.fee_ladder``)."""

Log = namedtuple("Log", ["apply_day", "day", "lp", "stake", "slash", "n"])
Log.__doc__ = """The commitment changes that took effect, per combination, in order: (C, M)
arrays ``apply_day`` (int), ``day`` (the tranche's day), ``lp`` (int), ``stake`` (the new stake),
``slash`` (bool: a bond slash, applied before the day's valuation), and ``n`` (C,) int, how
many. The share rules replay it (``split_weight_rows``)."""

Sla = namedtuple(
    "Sla",
    ["on", "s", "competition", "hysteresis", "epoch_days", "slope", "bond_max", "early_exit"],
)
Sla.__doc__ = """The SLA's parameters per combination, (C,) arrays: ``on`` (int, the ``sla``
rule's code: 1 where it is on), ``s``, ``competition`` (c), ``hysteresis`` (H, int),
``epoch_days`` (int), bond ``slope`` and ``bond_max``, ``early_exit`` (penalty rate)."""

Book = namedtuple(
    "Book",
    ["order", "group", "tick_size", "num_ticks", "mu", "sigma", "tau", "min_probability",
     "volume_rule", "low_probability", "price_range", "k", "shape_row"],
)  # fmt: skip
Book.__doc__ = """What an LP's orders read, per combination, (C,) arrays: ``order`` runs the
combinations sharing a book (``group``: path, tick grid, risk model, order rules) one after
the other, so each book's tables are built once; the rest are the book's parameters."""

Epochs = namedtuple("Epochs", ["time_on_book", "committed", "bond", "early_exit"])
Epochs.__doc__ = """Per epoch and LP, (C, NE, L): time on book, whether committed (bool), bond
penalty and early-exit penalty (NaN beyond a combination's last epoch)."""


Orders = namedtuple("Orders", ["pegged_buy", "pegged_sell", "supplied", "score"])
Orders.__doc__ = """Step 9's orders, (C, D, L): each LP's pegged volume per side (sums of n_i),
the liquidity it supplies and its liquidity score (where a score rule reads it; else (1, D, L)
and untouched)."""


@numba.njit(cache=True, nogil=True)
def _model(book, c):  # pragma: no cover - compiled
    """The ``BookModel`` of combination ``c``'s book (``Book``)."""
    return book_model(
        book.tick_size[c], book.num_ticks[c], book.mu[c], book.sigma[c], book.tau[c],
        book.min_probability[c], book.volume_rule[c], book.low_probability[c],
        book.price_range[c],
    )  # fmt: skip


@numba.njit(cache=True, nogil=True)
def order_shapes(shapes):  # pragma: no cover - compiled
    """The LPs' limit orders and pegged shares (``f_i/sum(f)``) side by side, as
    ``lp_orders`` reads them: ``(limits, shares)``, (G, L, 2, N) each, buy then sell."""
    n_shapes, n_lp, n_ticks = shapes.limit_buy.shape
    limits = np.zeros((n_shapes, n_lp, 2, n_ticks))
    shares = np.zeros((n_shapes, n_lp, 2, n_ticks))
    for g in range(n_shapes):
        for l in range(n_lp):
            limits[g, l, BUY_SIDE] = shapes.limit_buy[g, l]
            limits[g, l, SELL_SIDE] = shapes.limit_sell[g, l]
            pegged_shares(shapes.fractions_buy[g, l], shares[g, l, BUY_SIDE])
            pegged_shares(shapes.fractions_sell[g, l], shares[g, l, SELL_SIDE])
    return limits, shares


@numba.njit(cache=True, nogil=True)
def book_tables(model, price, ranges, tables):  # pragma: no cover - compiled
    """``day_tables`` of every day of one path. price: (D,); tables: (D, 2, TABLE_ROWS, N)."""
    for d in range(price.shape[0]):
        day_tables(model, price[d], ranges, tables[d])


@numba.njit(cache=True, nogil=True)
def _log_change(log, c, n, apply_day, day, lp, stake, slash):  # pragma: no cover - compiled
    log.apply_day[c, n] = apply_day
    log.day[c, n] = day
    log.lp[c, n] = lp
    log.stake[c, n] = stake
    log.slash[c, n] = slash
    return n + 1


CommitmentInputs = namedtuple(
    "CommitmentInputs",
    ["events", "event_span", "exit_rule", "score_rule", "target", "target_row", "price",
     "path_row", "behaviour", "behaviour_row"],
)  # fmt: skip
CommitmentInputs.__doc__ = """What steps 2-3 read: ``events`` (``Events``); ``event_span``
(C, 2) int, the ``[first, stop)`` of each combination's events (hurdle LPs' decisions make them
differ; else every one spans them all); ``exit_rule``, ``score_rule`` (C,) int codes; the
target stake (Ct, D), row ``target_row[c]``; the mark price (P, D), row ``path_row[c]``; the
LPs' time-on-book inputs ``behaviour`` (B, L, NE), row ``behaviour_row[c]``."""

Stakes = namedtuple("Stakes", ["stake", "bid", "total", "stake_share", "meets", "pool_in"])
Stakes.__doc__ = """Steps 2-3 of every day: each LP's ``stake``, ``bid``, ``stake_share`` and
whether its book ``meets`` its commitment (bool), (C, D, L); the ``total`` stake and the
insurance pool's inflows ``pool_in``, (C, D)."""

Recorded = namedtuple("Recorded", ["before", "requested"])
Recorded.__doc__ = """What hurdle LPs' decisions read at each day's start, before its events,
(C, D, L): each LP's stake and its request waiting for an epoch start (-1: none); empty,
(0, 0, 0), where no LP decides."""


Provisions = namedtuple(
    "Provisions",
    ["now", "bids", "commitment", "pending", "pending_bid", "pending_day", "days_met", "active"],
)
Provisions.__doc__ = """Scratch of ``commitment_rows`` per LP, (L,) each: its stake and bid now,
its commitment (its stake at the last epoch start), its request waiting for the epoch start
(-1: none) with its bid and its own day (NaN unless it falls due at once), the days of the
epoch its book met its commitment and whether it was active in the epoch (bool)."""

BookScratch = namedtuple("BookScratch", ["tables", "limits", "shares", "pegged", "parts"])
BookScratch.__doc__ = """Scratch of the SLA's daily check of the books: every day's tables of the
book in use (D, 2, TABLE_ROWS, N), the LPs' limits and pegged shares (``order_shapes``: (G, L,
2, N)), one LP's pegged volumes (2, N) and its ``limit_parts`` (4,)."""

Written = namedtuple("Written", ["out", "ladder", "log", "epochs", "orders", "recorded"])
Written.__doc__ = """What ``commitment_rows`` writes, the groups it is given: ``Stakes``,
``Ladder``, ``Log``, ``Epochs``, ``Orders`` and ``Recorded``."""


@numba.njit(cache=True, nogil=True)
def _clear(state, epochs, c, n_epochs):  # pragma: no cover - compiled
    """A combination's start: no provision, request or epoch record (``state``:
    ``Provisions``); combination ``c``'s epochs (``Epochs``) 0 up to its ``n_epochs``, NaN
    beyond."""
    state.now[:] = 0.0
    state.bids[:] = 0.0
    state.commitment[:] = 0.0
    state.pending[:] = -1.0
    state.pending_bid[:] = np.nan
    state.pending_day[:] = np.nan
    state.days_met[:] = 0.0
    state.active[:] = False
    for k in range(epochs.time_on_book.shape[1]):
        fill = 0.0 if k < n_epochs else np.nan
        for l in range(epochs.time_on_book.shape[2]):
            epochs.time_on_book[c, k, l] = fill
            epochs.committed[c, k, l] = False
            epochs.bond[c, k, l] = fill
            epochs.early_exit[c, k, l] = fill


@numba.njit(cache=True, nogil=True)
def _apply_batch(
    c, d, j, rule, early_rate, target, state, log, n_log, early
):  # pragma: no cover - compiled
    """An epoch start: the LPs' requests, increases first, then decreases under the exit rule,
    then each LP's commitment synced to its stake (``state``: ``Provisions``).

    A request is a difference from the LP's commitment (its stake on the first day of the epoch
    that is ending; the ending epoch's bond slash did not move it): an increase adds ``requested
    - commitment`` to the stake; a decrease takes ``variation = min(commitment - requested,
    stake)`` off it (core's ``applyPendingProvisions``, core/execution/common/
    liquidity_provision.go). Under ``exit_rule = "penalty"`` a decrease pays
    ``early_exit_penalty`` on the part of its variation beyond its pro-rata share of ``free =
    max(0, sum(commitment) - target)``, the commitments before this epoch start's requests and
    before slashes (core's ``CalculateSuppliedStakeWithoutPending``). A request's tranche is
    dated on the epoch's first day, or on its event's own day if that event falls due on it
    (``pending_day``, else NaN). ``j``: the epoch; ``early``: ``Epochs.early_exit``, (C, NE,
    L). Returns ``(entries logged, early-exit penalties paid, whether any request applied)``.
    """
    now, bids, commitment = state.now, state.bids, state.commitment
    pending, pending_bid, pending_day = state.pending, state.pending_bid, state.pending_day
    n_lp = now.shape[0]
    applied = False
    for l in range(n_lp):
        if pending[l] >= 0.0 and pending[l] >= commitment[l]:
            applied = True
            new = now[l] + (pending[l] - commitment[l])
            apply_event(now, bids, l, new, pending_bid[l])
            if pending[l] > commitment[l]:
                day = pending_day[l] if pending_day[l] == pending_day[l] else float(d)
                n_log = _log_change(log, c, n_log, d, day, l, new, False)
    total = total_of(now)
    free = max(0.0, total_of(commitment) - target)
    variations = 0.0
    for l in range(n_lp):
        if pending[l] >= 0.0 and pending[l] < commitment[l]:
            variations += min(commitment[l] - pending[l], now[l])
    paid = 0.0
    for l in range(n_lp):
        if pending[l] >= 0.0 and pending[l] < commitment[l]:
            applied = True
            variation = min(commitment[l] - pending[l], now[l])
            if rule == EXIT_REJECT:
                if total - variation < target:
                    continue
                total -= variation
            elif rule == EXIT_PENALTY:
                penalty = early_exit_penalty(early_rate, variation, variations, free)
                early[c, j, l] += penalty
                paid += penalty
            new = now[l] - variation
            apply_event(now, bids, l, new, pending_bid[l])
            if variation > 0.0:
                n_log = _log_change(log, c, n_log, d, float(d), l, new, False)
    for l in range(n_lp):
        commitment[l] = now[l]
        pending[l] = -1.0
        pending_bid[l] = np.nan
        pending_day[l] = np.nan
    return n_log, paid, applied


@numba.njit(cache=True, nogil=True, inline="always")
def _events_at_once(
    c, d, e, stop, events, rule, target, state, log, n_log
):  # pragma: no cover - compiled
    """Day ``d``'s events ``e..`` (up to ``stop``) applied on their day (``exit_rule`` free or
    ``reject_below_target``: a decrease that would take the total below ``target`` is
    rejected). Returns ``(next event, entries logged, whether a stake or bid changed)``.
    Inlined: a call in the day loop of these rules slows it (~5%), entered or not."""
    now, bids = state.now, state.bids
    changed = False
    while e < stop and events.apply_day[e] == d:
        lp = events.lp[e]
        new = events.stake[e]
        rejected = (
            rule == EXIT_REJECT and new < now[lp] and total_of(now) - (now[lp] - new) < target
        )
        if not rejected:
            apply_event(now, bids, lp, new, events.fee_bid[e])
            n_log = _log_change(log, c, n_log, d, events.day[e], lp, new, False)
            changed = True
        e += 1
    return e, n_log, changed


@numba.njit(cache=True, nogil=True)
def _events_by_epoch(
    c, d, e, stop, events, start, sla_on, state, log, n_log
):  # pragma: no cover - compiled
    """Day ``d``'s events ``e..`` (up to ``stop``) where they wait for the next epoch start
    (the SLA, and decreases under ``penalty``): a bid change applies on its day, an increase
    inside an epoch without the SLA at once, every other request waits (``start``: ``d`` is an
    epoch's first day). Returns ``(next event, entries logged, whether a stake or bid
    changed)``."""
    now, bids, commitment = state.now, state.bids, state.commitment
    pending, pending_bid, pending_day = state.pending, state.pending_bid, state.pending_day
    changed = False
    while e < stop and events.apply_day[e] == d:
        lp = events.lp[e]
        new = events.stake[e]
        new_bid = events.fee_bid[e]
        provision = commitment[lp] > 0.0
        if provision:  # core's AmendLiquidityProvision: the same commitment
            bid_only = new == commitment[lp]
        else:
            bid_only = new == 0.0 and pending[lp] < 0.0
        if bid_only:  # changes the bid only: on its own day
            if new_bid == new_bid:
                bids[lp] = new_bid
                changed = True
        elif not (start or sla_on) and new > commitment[lp]:
            # an increase inside an epoch (penalty rule, no SLA): at once
            apply_event(now, bids, lp, new, new_bid)
            commitment[lp] = new
            n_log = _log_change(log, c, n_log, d, events.day[e], lp, new, False)
            pending[lp] = -1.0
            pending_bid[lp] = np.nan
            pending_day[lp] = np.nan
            changed = True
        else:  # waits for the epoch start, with its bid (or the LP's bid now)
            if new_bid != new_bid and (provision or pending[lp] < 0.0):
                new_bid = bids[lp]
            elif new_bid != new_bid:  # no provision yet: its earlier request's
                new_bid = pending_bid[lp]
            pending[lp] = new
            pending_bid[lp] = new_bid
            pending_day[lp] = events.day[e] if start else np.nan
        e += 1
    return e, n_log, changed


@numba.njit(cache=True, nogil=True)
def _settle_bonds(
    c, d, n_days, inputs, sla, state, epochs, log, n_log, inflow
):  # pragma: no cover - compiled
    """The end of the epoch of day ``d``: each active LP's time on book (``Epochs``) and its
    bond slash, which lowers its stake from the next day (``state``: ``Provisions``). Returns
    ``(entries logged, the pool's inflow with the slashes, whether some stake was slashed)``.
    """
    now, days_met, active = state.now, state.days_met, state.active
    time_on_book, committed, bond = epochs.time_on_book, epochs.committed, epochs.bond
    behaviour = inputs.behaviour[inputs.behaviour_row[c]]  # (L, NE)
    s, slope, bond_max = sla.s[c], sla.slope[c], sla.bond_max[c]
    epoch_days = sla.epoch_days[c]
    k = d // epoch_days
    length = d - k * epoch_days + 1
    slashed = False
    for l in range(now.shape[0]):
        if active[l]:
            t = behaviour[l, k] * days_met[l] / length
            time_on_book[c, k, l] = t
            committed[c, k, l] = True
            slash = bond_penalty_fraction(t, s, slope, bond_max) * now[l]
            bond[c, k, l] = slash
            inflow += slash
            if slash > 0.0 and d + 1 < n_days:
                now[l] = now[l] - slash
                n_log = _log_change(log, c, n_log, d + 1, float(d + 1), l, now[l], True)
                slashed = True
    days_met[:] = 0.0
    active[:] = False
    return n_log, inflow, slashed


@numba.njit(cache=True, nogil=True, inline="always")
def _combinations(inputs, sla, book, books, state, written):  # pragma: no cover - compiled
    """``commitment_rows``' loops over combinations and days, on its scratch ``state``
    (``Provisions``) and ``books`` (``BookScratch`` where the SLA is in play; else None, and
    the loops are compiled without the check's code). written: ``Written``.

    What every day does (the record, the ladder, the stakes, the SLA's check) stays in the
    loop, on arrays taken out of their groups once: a call, a view or a group's array taken
    each day costs reference counts that a day of a few LPs notices. Helpers do the rest.
    """
    events, epochs, ladder, log = inputs.events, written.epochs, written.ladder, written.log
    stake, bid, total, stake_share, meets, pool_in = written.out
    pegged_buy, pegged_sell, supplied, score = written.orders
    before, requested = written.recorded
    now, bids, pending = state.now, state.bids, state.pending  # (L,) each
    days_met, active = state.days_met, state.active
    n_days, n_lp = stake.shape[1], stake.shape[2]
    record = before.shape[0] > 0  # (C, D, L) where hurdle LPs decide, else empty
    cached = -1
    for j in range(book.order.shape[0]):
        c = book.order[j]
        rule, sla_on, epoch_days = inputs.exit_rule[c], sla.on[c] != 0, sla.epoch_days[c]
        timed, scored = sla_on or rule == EXIT_PENALTY, inputs.score_rule[c] != SCORE_NONE
        target = inputs.target[inputs.target_row[c]]  # (D,)
        e, stop = inputs.event_span[c, 0], inputs.event_span[c, 1]
        _clear(state, epochs, c, (n_days + epoch_days - 1) // epoch_days)
        if books is not None:
            model, k, nt, g = _model(book, c), book.k[c], book.num_ticks[c], book.shape_row[c]
            if book.group[c] != cached:
                book_tables(model, inputs.price[inputs.path_row[c]], True, books.tables)
                cached = book.group[c]
            limits, shares, tables = books.limits[g], books.shares[g], books.tables
            pegged, parts = books.pegged, books.parts
            peg_buy, peg_sell = pegged[BUY_SIDE], pegged[SELL_SIDE]  # (N,) each
        n_log, n_active, slashed = 0, 0, False
        for d in range(n_days):
            if record:
                for l in range(n_lp):
                    before[c, d, l] = now[l]
                    requested[c, d, l] = pending[l]
            changed = d == 0 or slashed
            slashed = False
            inflow = 0.0
            start = timed and d % epoch_days == 0
            if e < stop and events.apply_day[e] == d:
                if timed:
                    e, n_log, moved = _events_by_epoch(
                        c, d, e, stop, events, start, sla_on, state, log, n_log
                    )
                else:
                    e, n_log, moved = _events_at_once(
                        c, d, e, stop, events, rule, target[d], state, log, n_log
                    )
                changed = changed or moved
            if start:
                n_log, paid, applied = _apply_batch(
                    c, d, d // epoch_days, rule, sla.early_exit[c], target[d], state, log, n_log,
                    epochs.early_exit,
                )  # fmt: skip
                inflow += paid
                changed = changed or applied
            if changed:
                n_active = fee_ladder(
                    now, bids, ladder.order[c, d], ladder.cumulative_stake[c, d],
                    ladder.cumulative_stake_bid[c, d],
                )  # fmt: skip
            else:
                for i in range(n_active):
                    ladder.order[c, d, i] = ladder.order[c, d - 1, i]
                    ladder.cumulative_stake[c, d, i] = ladder.cumulative_stake[c, d - 1, i]
                    ladder.cumulative_stake_bid[c, d, i] = ladder.cumulative_stake_bid[c, d - 1, i]
            ladder.n_active[c, d] = n_active
            day_total = total_of(now)
            total[c, d] = day_total
            for l in range(n_lp):
                stake[c, d, l] = now[l]
                bid[c, d, l] = bids[l]
                stake_share[c, d, l] = share_of(now[l], day_total)
                meets[c, d, l] = False
            if books is not None:  # the check: each active LP's orders, as order_rows builds
                day = tables[d]  # (2, TABLE_ROWS, N)
                day_buy, day_sell = day[BUY_SIDE], day[SELL_SIDE]
                for l in range(n_lp):
                    pegged_buy[c, d, l] = 0.0
                    pegged_sell[c, d, l] = 0.0
                    supplied[c, d, l] = 0.0
                    if now[l] <= 0.0:
                        continue
                    active[l] = True
                    obligation = k * now[l]
                    own = limits[l]  # (2, N)
                    limit_parts(own, day, model, parts)
                    total_buy, total_sell, liquidity_buy, liquidity_sell = lp_orders(
                        obligation, parts, shares[l], day, model, pegged
                    )
                    pegged_buy[c, d, l] = total_buy
                    pegged_sell[c, d, l] = total_sell
                    supplied[c, d, l] = min(liquidity_buy, liquidity_sell)
                    in_buy, score_buy = side_in_range(own[BUY_SIDE], peg_buy, day_buy, nt)
                    in_sell, score_sell = side_in_range(own[SELL_SIDE], peg_sell, day_sell, nt)
                    if scored:
                        score[c, d, l] = min(score_buy, score_sell)
                    if sla_on:  # whether its book meets its commitment
                        ok = in_buy >= obligation and in_sell >= obligation
                        meets[c, d, l] = ok
                        if ok:
                            days_met[l] += 1.0
            if sla_on and epoch_end(d, epoch_days, n_days):
                n_log, inflow, slashed = _settle_bonds(
                    c, d, n_days, inputs, sla, state, epochs, log, n_log, inflow
                )
            pool_in[c, d] = inflow
        log.n[c] = n_log


@numba.njit(cache=True, nogil=True)
def commitment_rows(
    inputs, sla, book, shapes, out, ladder, log, epochs, orders, recorded
):  # pragma: no cover - compiled
    """Steps 2-3 under the exit rule and the SLA: stakes and bids of every day, their totals
    and shares, the fee ladder, and the log of changes that took effect.

    Events apply on their day (``exit_rule`` free or ``reject_below_target``), or wait for the
    next epoch start (the SLA, and decreases under ``penalty``). Where the SLA is on, each
    active LP's book is checked against its commitment every day (``meets``) and an epoch's
    time on book may slash its bond, which lowers the stake from the next day. The loops are
    ``_combinations``'.

    inputs: ``CommitmentInputs``; sla: ``Sla``; book: ``Book``; shapes: ``Shapes``. Written:
    out: ``Stakes`` (C, D, L) and (C, D); ladder: ``Ladder``; log: ``Log``; epochs:
    ``Epochs``. Where the SLA is in play (its check builds every LP's orders anyway), also
    step 9's orders as ``order_rows`` gives them: orders: ``Orders``, (C, D, L); else (1, D, L)
    and untouched. Where hurdle LPs decide, what their decisions read at each day's start:
    recorded: ``Recorded`` (C, D, L); else empty, (0, 0, 0).
    """
    n_combos, n_days, n_lp = out.stake.shape
    max_ticks = shapes.limit_buy.shape[2]
    state = Provisions(
        np.zeros(n_lp), np.zeros(n_lp), np.zeros(n_lp), np.full(n_lp, -1.0),
        np.full(n_lp, np.nan), np.full(n_lp, np.nan), np.zeros(n_lp),
        np.zeros(n_lp, dtype=np.bool_),
    )  # fmt: skip
    written = Written(out, ladder, log, epochs, orders, recorded)
    if orders.pegged_buy.shape[0] == n_combos:  # the SLA in play: every combination's orders
        limits, shares = order_shapes(shapes)
        books = BookScratch(
            np.zeros((n_days, 2, TABLE_ROWS, max_ticks)), limits, shares,
            np.zeros((2, max_ticks)), np.zeros(4),
        )  # fmt: skip
        _combinations(inputs, sla, book, books, state, written)
    else:
        _combinations(inputs, sla, book, None, state, written)


Valuation = namedtuple("Valuation", ["window_sum", "proxy", "valuation"])
Valuation.__doc__ = """Steps 1 and 3 of every day, (C, D): the traded volume's window sum, the
valuation proxy and the valuation ``max(proxy, total stake)``."""


@numba.njit(cache=True, nogil=True)
def valuation_rows(
    volume, path_row, valuation_period, total, total_row, out
):  # pragma: no cover - compiled
    """Steps 1 and 3: the volume window, the valuation proxy and ``max(proxy, total stake)``.

    volume: (P, D); path_row, valuation_period: (C,) int; total: (Ck, D), total_row: (C,);
    out: ``Valuation``, written.
    """
    for c in range(path_row.shape[0]):
        window_sums(volume[path_row[c]], valuation_period[c], out.window_sum[c])
        valuation_proxy(out.window_sum[c], valuation_period[c], out.proxy[c])
        proxy_c, total_c, valuation = out.proxy[c], total[total_row[c]], out.valuation[c]
        for d in range(valuation.shape[0]):
            valuation[d] = max(proxy_c[d], total_c[d])


@numba.njit(cache=True, nogil=True)
def max_open_interest_rows(
    rule, open_interest, mark_price, path_row, stake_target_period, out
):  # pragma: no cover - compiled
    """Step 4's window: the maximum open interest over the last ``stake_target_period`` days,
    as notional (``target_price = "window"``) or in contracts valued at today's mark (``"mark"``).

    rule, path_row, stake_target_period: (C,) int; open_interest, mark_price: (P, D);
    out: (C, D), written.
    """
    n_days = out.shape[1]
    queue = np.empty(n_days, dtype=np.int64)
    contracts = np.empty(n_days)
    for c in range(path_row.shape[0]):
        p = path_row[c]
        if rule[c] == PRICE_WINDOW:
            window_max(open_interest[p], stake_target_period[c], queue, out[c])
        else:
            open_interest_in_contracts(open_interest[p], mark_price[p], contracts)
            window_max(contracts, stake_target_period[c], queue, out[c])
            for d in range(n_days):
                out[c, d] = mark_price[p, d] * out[c, d]


@numba.njit(cache=True, nogil=True)
def target_stake_rows(
    rule, max_oi, max_oi_row, c2, v, rf_long, rf_short, out
):  # pragma: no cover - compiled
    """Step 4: ``c2 * v * rf * max OI``, rf under ``risk_factor`` (codes ``rule``).

    max_oi: (Cm, D); rule, c2, v, rf_long, rf_short: (C,); out: (C, D), written.
    """
    for c in range(out.shape[0]):
        rf = target_risk_factor(rule[c], rf_long[c], rf_short[c])
        c2_c, v_c, window, row = c2[c], v[c], max_oi[max_oi_row[c]], out[c]
        for d in range(row.shape[0]):
            row[d] = target_stake(c2_c, v_c, rf, window[d])


@numba.njit(cache=True, nogil=True)
def fee_rate_rows(
    rule, target, target_row, ladder, bid, commit_row, given, out
):  # pragma: no cover - compiled
    """Step 5 for every day, with or without the SLA (core recomputes the liquidity fee
    whenever the target or a bid changes: ``updateLiquidityFee``, core/execution/future/
    market.go). rule: (C,) int codes; target: (Ct, D); ladder, bid: of the commitment stage,
    row ``commit_row[c]``; given: (D,); out: (C, D), written.
    The runs of days with the same ladder are found once per ladder row, however many
    combinations read it."""
    n_days = out.shape[1]
    starts = np.empty(n_days + 1, dtype=np.int64)
    n_runs = 0
    runs_of = -1  # the commitment row whose runs ``starts`` holds
    for c in range(out.shape[0]):
        r = commit_row[c]
        if r != runs_of:
            n_runs = ladder_runs(
                ladder.order[r], ladder.cumulative_stake[r], ladder.n_active[r], bid[r], starts
            )
            runs_of = r
        fee_rates(
            rule[c],
            target[target_row[c]],
            ladder.order[r],
            ladder.cumulative_stake[r],
            ladder.cumulative_stake_bid[r],
            ladder.n_active[r],
            bid[r],
            given,
            starts,
            n_runs,
            out[c],
        )


@numba.njit(cache=True, nogil=True)
def fees_rows(
    rate, rate_row, volume, path_row, total, total_row, fees, annual_return
):  # pragma: no cover - compiled
    """Steps 6 and 8 (market): fees collected and their annualised return on total stake.

    rate: (Cf, D); volume: (P, D); total: (Ck, D); fees, annual_return: (C, D), written.
    """
    for c in range(fees.shape[0]):
        # one row of each array: the loop over days then vectorises (indexing the 2-d arrays
        # inside it keeps the compiler from proving the rows apart, about 5x slower)
        volume_c, rate_c, total_c = volume[path_row[c]], rate[rate_row[c]], total[total_row[c]]
        fees_c, return_c = fees[c], annual_return[c]
        for d in range(fees_c.shape[0]):
            f = fees_collected(volume_c[d], rate_c[d])
            fees_c[d] = f
            return_c[d] = annualised(f, total_c[d])


ShareRules = namedtuple(
    "ShareRules", ["rule", "valuation_period", "steepness", "midpoint", "days_per_year"]
)
ShareRules.__doc__ = """What step 7 reads per combination, (C,) arrays: ``share_rule``'s code,
``valuation_period`` (int: the periods of ``virtual_stake``) and the ``time_weighted``
sigmoid's parameters (``sweep.mechanism.shares.Sigmoid``)."""

Weights = namedtuple("Weights", ["equity", "equity_share"])
Weights.__doc__ = """Step 7, (C, D, L): each LP's weight in the fee split and its share."""


@numba.njit(cache=True, nogil=True)
def split_weight_rows(
    rules, log, log_row, valuation, valuation_row, out
):  # pragma: no cover - compiled
    """Step 7: every LP's weight in the fee split (``equity``) and its share, every day.

    The commitment changes that took effect (``log``, row ``log_row[c]``) are replayed: a
    day's bond slashes first, then ``valuation_pre`` is taken, then the day's changes. Between
    the days that change the state (a change, or under ``virtual_stake`` a valuation period's
    end) the weights of all days are computed in one call (``split_weight_days``).
    rules: ``ShareRules``; valuation: ``Valuation`` of the valuation stage, row
    ``valuation_row[c]``; out: ``Weights``, written.
    """
    n_combos, n_days, n_lp = out.equity.shape
    size = max(log.apply_day.shape[1], 1)
    # average entry valuation 1 (entry_valuation rule) until an LP enters
    holdings = Holdings(np.zeros(n_lp), np.zeros(n_lp), np.ones(n_lp))
    tranches = Tranches(np.zeros(size, np.int64), np.zeros(size), np.zeros(size), np.zeros(size))
    for c in range(n_combos):
        vr = valuation_row[c]
        r = log_row[c]
        n_log = log.n[r]
        vp = rules.valuation_period[c]
        share_rule = rules.rule[c]
        sigmoid = Sigmoid(rules.steepness[c], rules.midpoint[c], rules.days_per_year[c])
        virtual_rule = share_rule == SHARE_VIRTUAL
        holdings.stake[:] = 0.0
        holdings.virtual[:] = 0.0
        holdings.entry[:] = 1.0
        n_tranches = 0
        e = 0
        average = 0.0  # A(n-1) of the virtual-stake rule
        d = 0
        while d < n_days:
            for phase in range(2):  # the day's bond slashes, then its commitment changes
                slash = phase == 0
                valuation_pre = (
                    0.0 if slash else max(valuation.proxy[vr, d], total_of(holdings.stake))
                )
                while e < n_log and log.apply_day[r, e] == d and log.slash[r, e] == slash:
                    lp = log.lp[r, e]
                    old = holdings.stake[lp]
                    new = log.stake[r, e]
                    n_tranches = open_or_scale_tranches(
                        lp, old, new, valuation_pre, log.day[r, e], tranches, n_tranches,
                        holdings.virtual,
                    )  # fmt: skip
                    if share_rule == SHARE_ENTRY_VALUATION:
                        holdings.entry[lp] = entry_valuation_update(
                            old, new, valuation_pre, holdings.entry[lp]
                        )
                    holdings.stake[lp] = new
                    e += 1
            # the state holds until the next day with changes (none if the log is spent or
            # its next change was not taken on its day) or, under virtual_stake, a period's end
            end = n_days
            if e < n_log and d < log.apply_day[r, e] < n_days:
                end = log.apply_day[r, e]
            if virtual_rule:
                end = min(end, (d // vp + 1) * vp)
            split_weight_days(
                share_rule, sigmoid, d, valuation.valuation[vr, d:end], holdings, tranches,
                n_tranches, out.equity[c, d:end], out.equity_share[c, d:end],
            )  # fmt: skip
            if virtual_rule and end % vp == 0:  # day end - 1 closes a valuation period
                n = (end - 1) // vp
                new_average = next_average_volume(average, valuation.window_sum[vr, end - 1], n)
                virtual_stake_update(holdings.stake, holdings.virtual, average, new_average, n)
                average = new_average
            d = end


RevenueInputs = namedtuple(
    "RevenueInputs",
    ["fees", "fees_row", "share", "share_row", "stake", "stake_row", "pool_in", "score",
     "score_row"],
)  # fmt: skip
RevenueInputs.__doc__ = """What step 8 reads of other stages, each with every combination's row
in it, (C,) int: ``fees`` (Cf, D) collected; ``share`` (Cs, D, L) the fee split's; ``stake``
(Ck, D, L) and ``pool_in`` (Ck, D) the commitment stage's (with its ``Epochs``); ``score`` (Co,
D, L) the books' liquidity score."""

FeeSplit = namedtuple("FeeSplit", ["score_rule", "els_fee_fraction"])
FeeSplit.__doc__ = """How a day's fees are split, per combination (C,): ``liquidity_score``'s
code and ``els_fee_fraction`` (``sweep.mechanism.shares.fee_weights``)."""

Revenue = namedtuple(
    "Revenue",
    ["revenue", "annual_return", "accrued", "penalty", "payout", "bonus", "pool", "score"],
)
Revenue.__doc__ = """Step 8's outputs: ``revenue``, ``annual_return`` (C, D, L); where the SLA
is on (else left as given, zeros): ``accrued`` (C, D, L), ``penalty``, ``payout``, ``bonus``
(C, NE, L); ``pool`` (C, D), or (1, D) and untouched when no inflow is in play; ``score``
each LP's liquidity score where ``score_rule`` reads it (C, D, L), or (1, D, L) and untouched
when none does."""

Accounts = namedtuple(
    "Accounts",
    ["weight", "account", "history", "counts", "penalties", "committed", "paid", "extra"],
)
Accounts.__doc__ = """Scratch of step 8 per LP, (L,) each (``history`` (L, NE): its raw SLA
penalties, ``counts`` how many): the day's split weights, the SLA's fee accounts and an epoch's
settlement."""


@numba.njit(cache=True, nogil=True)
def revenue_rows(inputs, split, sla, epochs, out):  # pragma: no cover - compiled
    """Step 8 per LP, and the SLA's fee accounts: each day's fees split by the share (and the
    liquidity score), paid at once, or, where the SLA is on, accrued and settled at each
    epoch's end with penalties and bonuses.

    inputs: ``RevenueInputs``; split: ``FeeSplit``; sla: ``Sla``; epochs: ``Epochs`` of the
    commitment stage, row ``inputs.stake_row[c]``; out: ``Revenue``, written.
    """
    n_combos, n_days, n_lp = out.revenue.shape
    n_epochs_max = out.penalty.shape[1]
    scratch = Accounts(
        np.zeros(n_lp), np.zeros(n_lp), np.zeros((n_lp, max(n_epochs_max, 1))),
        np.zeros(n_lp, dtype=np.int64), np.zeros(n_lp), np.zeros(n_lp, dtype=np.bool_),
        np.zeros(n_lp), np.zeros(n_lp),
    )  # fmt: skip
    for c in range(n_combos):
        if split.score_rule[c] != SCORE_NONE:
            qr = inputs.score_row[c]
            for d in range(n_days):
                for l in range(n_lp):
                    out.score[c, d, l] = inputs.score[qr, d, l]
        if sla.on[c] == 0:
            _paid_at_once(c, inputs, split, scratch.weight, out)
        else:
            _settled_by_epoch(c, inputs, split, sla, epochs, scratch, out)


@numba.njit(cache=True, nogil=True, inline="always")
def _paid_at_once(c, inputs, split, w, out):  # pragma: no cover - compiled
    """``revenue_rows`` without the SLA: each day's fees paid at once by the split's weights
    (``w``: (L,) scratch); the pool takes the commitment stage's inflows (exit penalties)."""
    n_days, n_lp = out.revenue.shape[1], out.revenue.shape[2]
    fr, sr, kr, qr = (
        inputs.fees_row[c],
        inputs.share_row[c],
        inputs.stake_row[c],
        inputs.score_row[c],
    )
    keep_pool = out.pool.shape[0] == out.revenue.shape[0]  # else no inflows: the pool stays empty
    scored = split.score_rule[c] != SCORE_NONE
    balance = 0.0
    for d in range(n_days):
        f = inputs.fees[fr, d]
        if scored:
            fee_weights(
                split.score_rule[c], split.els_fee_fraction[c], inputs.share[sr, d],
                inputs.score[qr, d], inputs.stake[kr, d], w,
            )  # fmt: skip
            for l in range(n_lp):
                r = f * w[l]
                out.revenue[c, d, l] = r
                out.annual_return[c, d, l] = annualised(r, inputs.stake[kr, d, l])
        else:
            for l in range(n_lp):
                r = f * inputs.share[sr, d, l]
                out.revenue[c, d, l] = r
                out.annual_return[c, d, l] = annualised(r, inputs.stake[kr, d, l])
        if keep_pool:
            balance += inputs.pool_in[kr, d]
            out.pool[c, d] = balance


@numba.njit(cache=True, nogil=True, inline="always")
def _settled_by_epoch(c, inputs, split, sla, epochs, scratch, out):  # pragma: no cover
    """``revenue_rows`` where the SLA is on: fees accrue into each LP's account and are
    settled at each epoch's end (penalties with hysteresis, payouts, bonuses); the pool takes
    what is not paid and the commitment stage's inflows. scratch: ``Accounts``."""
    n_days, n_lp = out.revenue.shape[1], out.revenue.shape[2]
    n_epochs_max = out.penalty.shape[1]
    fr, sr, kr, qr = (
        inputs.fees_row[c],
        inputs.share_row[c],
        inputs.stake_row[c],
        inputs.score_row[c],
    )
    w, account, history, counts = scratch.weight, scratch.account, scratch.history, scratch.counts
    penalties, committed, paid, extra = (
        scratch.penalties,
        scratch.committed,
        scratch.paid,
        scratch.extra,
    )
    epoch_days = sla.epoch_days[c]
    n_epochs = (n_days + epoch_days - 1) // epoch_days
    for k in range(n_epochs, n_epochs_max):  # no such epoch under this epoch length
        for l in range(n_lp):
            out.penalty[c, k, l] = np.nan
            out.payout[c, k, l] = np.nan
            out.bonus[c, k, l] = np.nan
    account[:] = 0.0
    counts[:] = 0
    balance = 0.0
    for d in range(n_days):
        f = inputs.fees[fr, d]
        if d > 0:  # a provision that ends takes its penalty history with it
            for l in range(n_lp):
                if inputs.stake[kr, d - 1, l] > 0.0 and inputs.stake[kr, d, l] <= 0.0:
                    counts[l] = 0
        fee_weights(
            split.score_rule[c], split.els_fee_fraction[c], inputs.share[sr, d],
            inputs.score[qr, d], inputs.stake[kr, d], w,
        )  # fmt: skip
        balance += inputs.pool_in[kr, d]
        for l in range(n_lp):
            a = f * w[l]
            out.accrued[c, d, l] = a
            account[l] += a
            out.revenue[c, d, l] = 0.0
        if epoch_end(d, epoch_days, n_days):
            k = d // epoch_days
            for l in range(n_lp):
                committed[l] = epochs.committed[kr, k, l]
                penalties[l] = 0.0
                if committed[l]:
                    p = fee_penalty(epochs.time_on_book[kr, k, l], sla.s[c], sla.competition[c])
                    penalties[l] = hysteresis_penalty(p, history[l], counts[l], sla.hysteresis[c])
                    history[l, counts[l]] = p
                    counts[l] += 1
            balance += settle_epoch(committed, penalties, account, paid, extra)
            for l in range(n_lp):
                out.penalty[c, k, l] = penalties[l]
                out.payout[c, k, l] = paid[l]
                out.bonus[c, k, l] = extra[l]
                out.revenue[c, d, l] = paid[l] + extra[l]
                account[l] = 0.0
        for l in range(n_lp):
            out.annual_return[c, d, l] = annualised(out.revenue[c, d, l], inputs.stake[kr, d, l])
        out.pool[c, d] = balance


BLOCK_DAYS = 32  # order_rows' days per block: their tables (~56 KiB at 10 ticks) stay in cache


@numba.njit(cache=True, nogil=True)
def order_rows(
    book, price, path_row, shapes, stake, stake_row, score_rule, out
):  # pragma: no cover - compiled
    """Step 9 without margin: every active LP's pegged volume per side, the liquidity it
    supplies and, under ``liquidity_score = "probability"`` (``score_rule``), its score.

    The combinations sharing a book (``book.group``, consecutive in ``book.order``) run
    together over blocks of :data:`BLOCK_DAYS` days: each day's tables are built once, on a day
    some LP of theirs is active, with every LP's ``limit_parts``, and read by every such LP
    (``lp_orders``, the step the SLA's check shares) while they are in cache; each combination
    walks its block's days in order (its arrays in memory order). No table of every day.
    book: ``Book``; price: (P, D); path_row, score_rule: (C,) int; shapes: ``Shapes``;
    stake: (Ck, D, L), row ``stake_row[c]``; out: ``Orders``, written (score only where
    ``score_rule`` asks for it, given as zeros).
    """
    n_combos = book.order.shape[0]
    n_days = price.shape[1]
    n_lp = stake.shape[2]
    limits, shares = order_shapes(shapes)
    tables = np.zeros((BLOCK_DAYS, 2, TABLE_ROWS, limits.shape[3]))
    built = np.zeros(BLOCK_DAYS, dtype=np.bool_)
    parts = np.zeros((BLOCK_DAYS, n_lp, 4))  # each LP's limit_parts of the block's days
    pegged = np.zeros((2, limits.shape[3]))
    first = 0
    while first < n_combos:  # one book at a time: its combinations first..last-1
        c0 = book.order[first]
        last = first + 1
        ranges = score_rule[c0] != SCORE_NONE
        while last < n_combos and book.group[book.order[last]] == book.group[c0]:
            ranges = ranges or score_rule[book.order[last]] != SCORE_NONE
            last += 1
        model = _model(book, c0)
        p = path_row[c0]
        g = book.shape_row[c0]
        n_ticks = book.num_ticks[c0]
        block = BLOCK_DAYS if last - first > 1 else 1  # alone: one day's tables, in L1
        for d0 in range(0, n_days, block):
            built[:] = False
            for j in range(first, last):
                c = book.order[j]
                r = stake_row[c]
                scored = score_rule[c] != SCORE_NONE
                for d in range(d0, min(d0 + block, n_days)):
                    day = tables[d - d0]
                    for l in range(n_lp):
                        s = stake[r, d, l]
                        if s <= 0.0:
                            out.pegged_buy[c, d, l] = 0.0
                            out.pegged_sell[c, d, l] = 0.0
                            out.supplied[c, d, l] = 0.0
                            continue
                        if not built[d - d0]:
                            day_tables(model, price[p, d], ranges, day)
                            for i in range(n_lp):
                                limit_parts(limits[g, i], day, model, parts[d - d0, i])
                            built[d - d0] = True
                        buy, sell, liquidity_buy, liquidity_sell = lp_orders(
                            book.k[c] * s, parts[d - d0, l], shares[g, l], day, model, pegged
                        )
                        out.pegged_buy[c, d, l] = buy
                        out.pegged_sell[c, d, l] = sell
                        out.supplied[c, d, l] = min(liquidity_buy, liquidity_sell)
                        if scored:
                            _, score_buy = side_in_range(
                                limits[g, l, BUY_SIDE], pegged[BUY_SIDE], day[BUY_SIDE], n_ticks
                            )
                            _, score_sell = side_in_range(
                                limits[g, l, SELL_SIDE], pegged[SELL_SIDE], day[SELL_SIDE],
                                n_ticks,
                            )  # fmt: skip
                            out.score[c, d, l] = min(score_buy, score_sell)
        first = last


MarginRules = namedtuple(
    "MarginRules", ["margin_orders", "rf_long", "rf_short", "shape_row", "num_ticks"]
)
MarginRules.__doc__ = """What step 9's margin reads per combination, (C,) arrays:
``margin_orders``' code, the risk factors, and the book's shape row and ``num_ticks`` (int)."""

MarginSides = namedtuple("MarginSides", ["buy", "sell"])
MarginSides.__doc__ = """Step 9's margin per side, (C, D, L)."""


@numba.njit(cache=True, nogil=True)
def margin_side_rows(
    rules, orders, orders_row, stake, stake_row, price, path_row, shapes, out
):  # pragma: no cover - compiled
    """Step 9's margin per side: ``rf_side * mid * volume``, the volume pegged only
    (``margin_orders = "pegged"``) or limit orders too (``"all"``).

    rules: ``MarginRules``; orders: ``Orders`` (Co, D, L), row ``orders_row[c]``; stake:
    (Ck, D, L); price: (P, D); shapes: ``Shapes``; out: ``MarginSides``, written (0 for
    inactive LPs).
    """
    n_lp = out.buy.shape[2]
    limit_buy = np.zeros(n_lp)
    limit_sell = np.zeros(n_lp)
    for c in range(out.buy.shape[0]):
        o = orders_row[c]
        every = rules.margin_orders[c] == ORDERS_ALL
        for l in range(n_lp):
            if every:
                g, n = rules.shape_row[c], rules.num_ticks[c]
                limit_buy[l] = limit_volume(shapes.limit_buy[g, l], n)
                limit_sell[l] = limit_volume(shapes.limit_sell[g, l], n)
        for d in range(out.buy.shape[1]):
            mid = price[path_row[c], d]
            for l in range(n_lp):
                if stake[stake_row[c], d, l] > 0.0:
                    volume_buy = orders.pegged_buy[o, d, l]
                    volume_sell = orders.pegged_sell[o, d, l]
                    if every:
                        volume_buy += limit_buy[l]
                        volume_sell += limit_sell[l]
                    out.buy[c, d, l] = side_margin(rules.rf_long[c], mid, volume_buy)
                    out.sell[c, d, l] = side_margin(rules.rf_short[c], mid, volume_sell)
                else:
                    out.buy[c, d, l] = 0.0
                    out.sell[c, d, l] = 0.0


@numba.njit(cache=True, nogil=True)
def margin_rows(rule, margin_buy, margin_sell, sides_row, margin, total_margin):  # pragma: no cover
    """Steps 9-10: each LP's margin under ``margin_rule`` and their total.

    rule: (C,) int; margin_buy/sell: (Cs, D, L); margin: (C, D, L); total_margin: (C, D).
    """
    for c in range(margin.shape[0]):
        s = sides_row[c]
        for d in range(margin.shape[1]):
            total = 0.0
            for l in range(margin.shape[2]):
                m = combined_margin(rule[c], margin_buy[s, d, l], margin_sell[s, d, l])
                margin[c, d, l] = m
                total += m
            total_margin[c, d] = total


@numba.njit(cache=True, nogil=True)
def obligation_rows(k, stake, stake_row, out):  # pragma: no cover - compiled
    """Step 9: ``k * stake`` of active LPs. k: (C,); stake: (Ck, D, L); out: (C, D, L)."""
    for c in range(out.shape[0]):
        for d in range(out.shape[1]):
            for l in range(out.shape[2]):
                s = stake[stake_row[c], d, l]
                out[c, d, l] = k[c] * s if s > 0.0 else 0.0


@numba.njit(cache=True, nogil=True)
def return_on_capital_rows(
    fees, fees_row, target, target_row, total_margin, margin_row, out
):  # pragma: no cover - compiled
    """Step 10: ``365 * fees / (target stake + total margin)``. Inputs (C*, D); out (C, D)."""
    for c in range(out.shape[0]):
        fees_c, target_c = fees[fees_row[c]], target[target_row[c]]
        margin_c, row = total_margin[margin_row[c]], out[c]
        for d in range(row.shape[0]):
            row[d] = annualised(fees_c[d], target_c[d] + margin_c[d])


@numba.njit(cache=True, nogil=True)
def supply_rows(target, target_row, total, total_row, ratio, under):  # pragma: no cover
    """Step 10: supply ratio and whether total stake is below target. Inputs (C*, D);
    ratio: (C, D) float and under: (C, D) bool, written."""
    for c in range(ratio.shape[0]):
        target_c, total_c = target[target_row[c]], total[total_row[c]]
        ratio_c, under_c = ratio[c], under[c]
        for d in range(ratio_c.shape[0]):
            t = target_c[d]
            s = total_c[d]
            ratio_c[d] = supply_ratio(s, t)
            under_c[d] = s < t
