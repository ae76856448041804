"""The chunk's stages where hurdle LPs decide (MECHANISM.md "LPs that decide for themselves"):
the decision loop, which runs the stages again as the LPs' decisions add events."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..mechanism.decisions import ENTER, LEAVE, Entrants, History, Seen, Strategy, Windows, walk
from ..mechanism.kernels import Events
from .chunk import ChunkContext, ChunkData
from .plan import Chunk, Plan


def decide(chunk_data: ChunkData, outputs: Iterable[str]) -> None:
    """The stages of a chunk whose hurdle LPs decide (MECHANISM.md "LPs that decide for
    themselves").

    A decision on day ``d`` reads only days before ``d`` and its event joins day ``d``'s,
    so no output of a day before ``d`` depends on it. The stages run for the chunk with
    the events decided so far (at first: none beyond the schedules and ``start = "in"``);
    each scenario then walks its days, keeping its windows as running sums
    (``sweep.mechanism.decisions.walk``), up to the first decision day on which some LP
    decides; those decisions join the scenario's own events, the stages that the
    decisions read run again, and its walk goes on from that day. They run again for the
    scenarios that decided, each on its own (:func:`one_scenario`), or for the whole chunk where
    at least half of its scenarios did (one run of all costs less than as many runs of
    one): a scenario runs again once per decision day with a decision, not once per day.
    Last, orders and margins, and the chunk's stages once more if some scenario ran on
    its own, run with every scenario's events (the same numbers: each combination's
    events are its own).
    """
    plan = chunk_data.plan
    # what the decisions read runs again after each decision; the rest (orders, margins)
    # once at the end
    names = plan.stages.needed(["stake", "fee_rate", "fee_revenue"])
    after = {"commitments"}  # the stages that read the commitments: run again
    for name in names:
        if any(step in after for step in plan.stages.reads[name]):
            after.add(name)
    chunk_data.run_stages(names)
    ctx = ChunkContext(chunk_data, "commitments")
    n, n_days, n_lp = ctx.n, plan.n_days, plan.n_lp
    lookback, every = ctx.param("lookback_days"), ctx.param("decision_days")
    hurdle, exit_hurdle = ctx.param("hurdle"), ctx.param("exit_hurdle")
    epoch_days = ctx.param("epoch_days")
    lps = plan.config.lps
    is_hurdle = np.array([lp.hurdle for lp in lps], dtype=np.bool_)
    entry_stake = np.array([lp.stake if lp.hurdle else 0.0 for lp in lps])
    entry_bid = np.array([lp.fee_bid if lp.hurdle else 0.0 for lp in lps])
    entrants = Entrants(is_hurdle, entry_stake, entry_bid)
    today = scheduled_today(plan)
    decision = np.zeros((n, n_days, n_lp), np.int8)
    added: list[list[tuple]] = [[] for _ in range(n)]  # each one's decisions' events
    windows = Windows(
        np.zeros((n, n_lp)), np.zeros((n, n_lp)), np.zeros((n, n_lp), np.int64),
        np.zeros((n, 1)), np.zeros((n, n_lp + 1), np.int64),
    )  # fmt: skip
    start = np.zeros(n, np.int64)  # the day each scenario's walk resumes from
    again = np.ones(n, np.bool_)  # whether it decides on that day (not yet done)
    alone: list[ChunkData | None] = [None] * n  # where its numbers are, if not the chunk's
    chunk_rows = (ctx.path_rows(), ctx.rows("revenue"), ctx.rows("fee_rate"))
    base, stale = chunk_data.events, False  # stale: the chunk's runs lack some decisions
    walking = list(range(n))
    while walking:
        fired = []
        for c in walking:
            data, row, rows = (chunk_data, c, chunk_rows) if alone[c] is None else (
                alone[c], 0, ONE_ROW)  # fmt: skip
            commit, results = data.results["commitments"], data.results
            history = History(
                data.series()["traded_volume"][rows[0][row]],
                results["revenue"]["fee_revenue"][rows[1][row]], commit["stake"][row],
                commit["bond_penalty"][row], commit["early_exit_penalty"][row],
                int(epoch_days[c]),
            )  # fmt: skip
            seen = Seen(
                commit["stake_before"][row], commit["requested"][row], today,
                results["fee_rate"]["fee_rate"][rows[2][row]],
            )  # fmt: skip
            d = walk(
                start[c], again[c], Strategy(every[c], lookback[c], hurdle[c], exit_hurdle[c]),
                entrants, seen, history, Windows(*(w[c] for w in windows)), decision[c],
            )  # fmt: skip
            start[c], again[c] = d, False
            if d >= n_days:  # walked to the end: its own run is no longer read
                alone[c] = None
                continue
            fired.append(c)
            for l in np.flatnonzero(decision[c, d]):
                if decision[c, d, l] == ENTER:
                    added[c].append((d, l, entry_stake[l], entry_bid[l]))
                elif decision[c, d, l] == LEAVE:
                    added[c].append((d, l, 0.0, np.nan))
        # run again: the chunk where half its scenarios decided (one run of all costs less
        # than as many runs of one), else each of them on its own
        if 2 * len(fired) >= n:
            chunk_data.events, chunk_data.event_span = merge_events(base, added)
            for name in after:
                chunk_data.results.pop(name, None)
            chunk_data.run_stages(names)
            alone, stale = [None] * n, False
        else:
            for c in fired:
                mine = alone[c] = alone[c] or one_scenario(chunk_data, c)
                mine.events, mine.event_span = merge_events(base, [added[c]])
                for name in after:
                    mine.results.pop(name, None)
                mine.run_stages(names)
                stale = True
        walking = fired
    if stale:  # the chunk's stages with every scenario's events
        chunk_data.events, chunk_data.event_span = merge_events(base, added)
        for name in after:
            chunk_data.results.pop(name, None)
    chunk_data.run_stages(n for n in plan.stages.needed(outputs) if n != "decisions")
    stake = chunk_data.results["commitments"]["stake"]
    chunk_data.results["decisions"] = {
        "decision": decision,
        "active_lps": np.count_nonzero(stake > 0.0, axis=-1).astype(np.int32),
    }


def one_scenario(chunk_data: ChunkData, row: int) -> ChunkData:
    """A chunk of the one scenario that is row ``row`` of the commitments' combinations
    (for a class of scenarios, its first), to run again on its own."""
    axes = chunk_data.plan.stages.axes["commitments"]  # every axis, where hurdle LPs decide
    classes = chunk_data.classes("commitments")
    extent = classes.extent(chunk_data.extent)
    index = np.unravel_index(row, tuple(extent[a] for a in axes))
    slices = list(chunk_data.chunk.slices)
    for a, i in zip(axes, index, strict=True):
        i = int(classes.first[a][i]) if a in classes.first else int(i)
        slices[a] = slice(slices[a].start + i, slices[a].start + i + 1)
    return ChunkData(chunk_data.plan, Chunk(chunk_data.chunk.index, tuple(slices)))


ONE_ROW = (np.zeros(1, np.int64),) * 3  # a one-scenario chunk's rows: path, revenue, fee rate


def scheduled_today(plan: Plan) -> np.ndarray:
    """(D, L): the stake of each LP's last event dated each day (NaN: none), which a
    decision's requested total counts as made (MECHANISM.md: "events scheduled for day d")."""
    cache = plan.__dict__.setdefault("_scheduled_today_cache", [])
    if not cache:
        out = np.full((plan.n_days, plan.n_lp), np.nan)
        ev = plan.events
        for day, lp, stake in zip(ev["apply_day"], ev["lp"], ev["stake"], strict=True):
            if day < plan.n_days:
                out[day, lp] = stake
        out.flags.writeable = False
        cache.append(out)
    return cache[0]


def merge_events(base: Events, added: list[list[tuple]]) -> tuple[Events, np.ndarray]:
    """Every combination's events: ``base`` (the schedules) and its own decisions' events
    (``added[c]``: ``(day, lp, stake, fee_bid)``), in the order the kernel applies them (day,
    then LP, then as given), one block after the other; and each block's ``[first, stop)``."""
    n, n_base = len(added), len(base.apply_day)
    counts = np.array([len(a) for a in added], dtype=np.int64)
    rows = [r for a in added for r in a]
    own = np.array(rows, dtype=np.float64).reshape(len(rows), 4)
    combo = np.concatenate([np.repeat(np.arange(n), n_base), np.repeat(np.arange(n), counts)])
    day = np.concatenate([np.tile(base.day, n), own[:, 0]])
    apply_day = np.concatenate([np.tile(base.apply_day, n), own[:, 0].astype(np.int64)])
    lp = np.concatenate([np.tile(base.lp, n), own[:, 1].astype(np.int64)])
    stake = np.concatenate([np.tile(base.stake, n), own[:, 2]])
    bid = np.concatenate([np.tile(base.fee_bid, n), own[:, 3]])
    seq = np.arange(len(combo))
    order = np.lexsort((seq, lp, apply_day, combo))
    events = Events(
        np.ascontiguousarray(apply_day[order]), np.ascontiguousarray(day[order]),
        np.ascontiguousarray(lp[order]), np.ascontiguousarray(stake[order]),
        np.ascontiguousarray(bid[order]),
    )  # fmt: skip
    stop = np.cumsum(n_base + counts)
    span = np.stack([stop - (n_base + counts), stop], axis=1).astype(np.int64)
    return events, span
