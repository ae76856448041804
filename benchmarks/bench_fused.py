"""The engine's step kernels against a fused single-loop kernel of the default mechanism, when
nothing is shared (issue 23, "Compute, nothing shared").

Run: ``python benchmarks/bench_fused.py [--paths N] [--days D] [--repeat R] [--stages]``
(default 4,096 scenarios x 365 days x 4 LPs, one core, ``NUMBA_NUM_THREADS=1``). Every
scenario runs on its own GBM path (``[sweep] paths = N``, one network setting, the default
rules), so no stage result is shared between scenarios: the engine's split of the mechanism
into stages can only cost here, never save.

The yardstick is :func:`fused_scenarios`: one loop per scenario that walks the days once and
computes steps 1-10 of MECHANISM.md in place, as one would write the default mechanism by hand
for speed (the shapes' pegged shares are hoisted; the book's levels, probabilities and weights
computed once per day for every LP). It must equal the engine's outputs on everything it
computes, bit for bit: the benchmark checks every chunk before timing (``CHECKED``).

Timed, interleaved, best of ``--repeat`` each, in this run:

- fused: over the plan's chunks, each chunk's paths built (``PathSource.build_many``, as the
  engine builds them), its outputs allocated, and the fused loop run; once as one would write
  it (the target's yardstick), once with each day's book computed phase by phase as the
  engine's is (information: what the engine's other means are worth on their own);
- engine: ``sweep.engine.compute.compute_chunk`` over the same chunks, all outputs, nothing
  kept from one pass to the next (``forget_shared``).

Prints both in LP-days per second and the engine's speed relative to the fused loop. Target
(issue 23): engine >= 1.0x fused (PASS/FAIL). ``--stages`` also prints the share of each stage
in one pass of the engine, and of building the paths.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numba  # noqa: E402
import numpy as np  # noqa: E402
from grid import LPS, PATH  # noqa: E402
from timing import verdict  # noqa: E402

from sweep.engine.chunk import ChunkContext, ChunkData  # noqa: E402
from sweep.engine.compute import compute_chunk  # noqa: E402
from sweep.engine.plan import make_plan  # noqa: E402
from sweep.engine.shared import forget_shared  # noqa: E402
from sweep.engine.stages import STAGES  # noqa: E402

TARGET = 1.0
SQRT2 = math.sqrt(2.0)

# the outputs the fused loop computes: every variable the default rules make (the SLA's and the
# liquidity score's are zeros there, the engine's without a kernel)
PER_DAY = (
    "valuation", "target_stake", "total_stake", "fee_rate", "fees_collected",
    "annualised_return", "total_margin", "annualised_return_on_capital", "supply_ratio",
    "under_supplied",
)  # fmt: skip
PER_LP = (
    "stake", "fee_bid", "equity", "equity_share", "stake_share", "fee_revenue",
    "lp_annualised_return", "obligation", "margin_buy", "margin_sell", "margin",
    "supplied_liquidity",
)  # fmt: skip
CHECKED = PER_DAY + PER_LP


def own_path_config(n_paths: int, days: int) -> dict:
    """The default rules, the benchmarks' market and LPs, every scenario on its own path."""
    return {
        "name": "bench-fused",
        "sweep": {"days": days, "seed": 1, "paths": n_paths},
        "path": dict(PATH),
        "network": {"v": 1.0},
        "lp": copy.deepcopy(LPS),
    }


@numba.njit(cache=True, nogil=True)
def fused_scenarios(
    price,  # (S, D) mark price of each scenario's path
    volume,  # (S, D) traded volume
    open_interest,  # (S, D)
    params,  # (9,) v, k, c2, rf_long, rf_short, mu, sigma, tau, tick_size
    periods,  # (2,) int: valuation_period, stake_target_period
    min_probability,
    limit_buy,  # (L, N) limit orders per level, buy side
    limit_sell,  # (L, N)
    fractions_buy,  # (L, N) liquidity fractions
    fractions_sell,  # (L, N)
    event_day,  # (E,) int: the day each commitment event applies, ascending
    event_lp,  # (E,) int
    event_stake,  # (E,) the LP's new stake
    event_bid,  # (E,) its new bid (NaN keeps the old one)
    phased,  # bool: the book's levels phase by phase (as the engine's), else level by level
    per_day,  # (len(PER_DAY), S, D) written
    per_lp,  # (len(PER_LP), S, D, L) written
):  # pragma: no cover - compiled
    """Steps 1-10 of MECHANISM.md under the default rules, one scenario after the other, one
    pass over its days: a hand-fused loop, the yardstick of the engine's step kernels.

    ``phased`` computes each day's book as the engine does (``sweep.mechanism.book``): every
    level's ratio to mid, then every ``log``, every argument, every ``erfc``, over both sides;
    the same arithmetic, so the same bits, without the wait of each level's calls on its
    divisions. Plain, each level's probability is one expression, as one would write it."""
    v, k, c2, rf_long, rf_short, mu, sigma, tau, tick = params
    vp, stp = periods[0], periods[1]
    n_scen, n_days = price.shape
    n_lp, n_ticks = limit_buy.shape
    n_events = event_day.shape[0]
    spread = sigma * np.sqrt(tau)
    drift = (mu - 0.5 * sigma * sigma) * tau
    shares_buy = np.zeros((n_lp, n_ticks))  # f_i / sum(f): the same every day
    shares_sell = np.zeros((n_lp, n_ticks))
    for l in range(n_lp):
        total_buy = 0.0
        total_sell = 0.0
        for i in range(n_ticks):
            total_buy += fractions_buy[l, i]
            total_sell += fractions_sell[l, i]
        for i in range(n_ticks):
            shares_buy[l, i] = fractions_buy[l, i] / total_buy if total_buy > 0.0 else 0.0
            shares_sell[l, i] = fractions_sell[l, i] / total_sell if total_sell > 0.0 else 0.0
    weighted_buy = np.zeros(n_ticks)  # prob_i * p_i of the day's levels
    weighted_sell = np.zeros(n_ticks)
    inverse_buy = np.zeros(n_ticks)  # 1 / (prob_i * p_i), 0 at improbable levels
    inverse_sell = np.zeros(n_ticks)
    up_down = np.zeros((2, n_ticks))  # the phased book's levels (sell, buy) and scratch
    x = np.zeros((2, n_ticks))
    stake = np.zeros(n_lp)
    bid = np.zeros(n_lp)
    order = np.zeros(n_lp, dtype=np.int64)
    weight = np.zeros(n_lp)
    tranche_lp = np.zeros(max(n_events, 1), dtype=np.int64)
    tranche_entry = np.zeros(max(n_events, 1))
    tranche_stake = np.zeros(max(n_events, 1))
    target_factor = c2 * v * rf_short  # risk_factor = "short"
    for s in range(n_scen):
        stake[:] = 0.0
        bid[:] = 0.0
        n_tranches = 0
        e = 0
        for d in range(n_days):
            # 1. valuation proxy, summed left to right over the (possibly short) window
            lo = max(0, d - vp + 1)
            window = 0.0
            for j in range(lo, d + 1):
                window += volume[s, j]
            proxy = vp / (d - lo + 1) * window
            # 2. the day's commitment events: tranches at the valuation before them
            total_before = 0.0
            for l in range(n_lp):
                total_before += stake[l]
            valuation_pre = max(proxy, total_before)
            while e < n_events and event_day[e] == d:
                lp = event_lp[e]
                old = stake[lp]
                new = event_stake[e]
                if new > old:
                    delta = new - old
                    tranche_lp[n_tranches] = lp
                    tranche_entry[n_tranches] = valuation_pre if valuation_pre != 0.0 else delta
                    tranche_stake[n_tranches] = delta
                    n_tranches += 1
                elif new < old:
                    kept = 0
                    for t in range(n_tranches):
                        if tranche_lp[t] == lp:
                            if new == 0.0:
                                continue  # an exit drops the LP's tranches
                            tranche_stake[t] *= new / old
                        tranche_lp[kept] = tranche_lp[t]
                        tranche_entry[kept] = tranche_entry[t]
                        tranche_stake[kept] = tranche_stake[t]
                        kept += 1
                    n_tranches = kept
                stake[lp] = new
                if event_bid[e] == event_bid[e]:
                    bid[lp] = event_bid[e]
                e += 1
            # 3. totals
            total = 0.0
            for l in range(n_lp):
                total += stake[l]
            valuation = max(proxy, total)
            # 4. target stake
            max_oi = open_interest[s, max(0, d - stp + 1)]
            for j in range(max(0, d - stp + 1) + 1, d + 1):
                max_oi = max(max_oi, open_interest[s, j])
            target = target_factor * max_oi
            # 5. marginal fee rate: active LPs by (bid, l), the first that reaches the target
            n_active = 0
            for l in range(n_lp):
                if stake[l] > 0.0:
                    j = n_active
                    while j > 0 and bid[order[j - 1]] > bid[l]:
                        order[j] = order[j - 1]
                        j -= 1
                    order[j] = l
                    n_active += 1
            rate = 0.0
            cumulative = 0.0
            for j in range(n_active):
                rate = bid[order[j]]
                cumulative += stake[order[j]]
                if cumulative >= target:
                    break
            # 6. fees
            fees = volume[s, d] * rate
            # 7. equity-like weights
            weight[:] = 0.0
            for t in range(n_tranches):
                weight[tranche_lp[t]] += valuation / tranche_entry[t] * tranche_stake[t]
            weight_total = 0.0
            for l in range(n_lp):
                weight_total += weight[l]
            # 9. the day's book: levels, probabilities of trading, weights
            mid = price[s, d]
            if not phased:
                for i in range(n_ticks):
                    offset = (i + 1) * tick
                    up = mid + offset
                    down = mid - offset
                    arg_sell = -((math.log(up / mid) - drift) / spread) / SQRT2
                    arg_buy = -((math.log(down / mid) - drift) / spread) / SQRT2
                    q_sell = 1.0 - 0.5 * math.erfc(arg_sell)
                    q_buy = 0.5 * math.erfc(arg_buy)
                    weighted_sell[i] = q_sell * up
                    weighted_buy[i] = q_buy * down
                    inverse_sell[i] = 1.0 / weighted_sell[i] if q_sell > min_probability else 0.0
                    inverse_buy[i] = 1.0 / weighted_buy[i] if q_buy > min_probability else 0.0
            else:  # the same arithmetic, each phase over every level of both sides
                for i in range(n_ticks):
                    up_down[0, i] = mid + (i + 1) * tick
                    up_down[1, i] = mid - (i + 1) * tick
                for i in range(n_ticks):
                    x[0, i] = up_down[0, i] / mid
                    x[1, i] = up_down[1, i] / mid
                for i in range(n_ticks):
                    x[0, i] = math.log(x[0, i])
                    x[1, i] = math.log(x[1, i])
                for i in range(n_ticks):
                    x[0, i] = -((x[0, i] - drift) / spread) / SQRT2
                    x[1, i] = -((x[1, i] - drift) / spread) / SQRT2
                for i in range(n_ticks):
                    x[0, i] = math.erfc(x[0, i])
                    x[1, i] = math.erfc(x[1, i])
                for i in range(n_ticks):
                    q_sell = 1.0 - 0.5 * x[0, i]
                    q_buy = 0.5 * x[1, i]
                    weighted_sell[i] = q_sell * up_down[0, i]
                    weighted_buy[i] = q_buy * up_down[1, i]
                    inverse_sell[i] = 1.0 / weighted_sell[i] if q_sell > min_probability else 0.0
                    inverse_buy[i] = 1.0 / weighted_buy[i] if q_buy > min_probability else 0.0
            # 8-9. per LP: revenue, orders, margin
            total_margin = 0.0
            for l in range(n_lp):
                share = weight[l] / weight_total if weight_total > 0.0 else 0.0
                revenue = fees * share
                per_lp[0, s, d, l] = stake[l]
                per_lp[1, s, d, l] = bid[l]
                per_lp[2, s, d, l] = weight[l]
                per_lp[3, s, d, l] = share
                per_lp[4, s, d, l] = stake[l] / total if total > 0.0 else 0.0
                per_lp[5, s, d, l] = revenue
                per_lp[6, s, d, l] = 365.0 * revenue / stake[l] if stake[l] > 0.0 else 0.0
                obligation = 0.0
                margin_buy = 0.0
                margin_sell = 0.0
                supplied = 0.0
                if stake[l] > 0.0:
                    obligation = k * stake[l]
                    limit_liq_buy = 0.0
                    limit_liq_sell = 0.0
                    for i in range(n_ticks):
                        limit_liq_buy += limit_buy[l, i] * weighted_buy[i]
                        limit_liq_sell += limit_sell[l, i] * weighted_sell[i]
                    remaining_buy = max(obligation - limit_liq_buy, 0.0)
                    remaining_sell = max(obligation - limit_liq_sell, 0.0)
                    pegged_buy = 0.0
                    pegged_sell = 0.0
                    supplied_buy = limit_liq_buy
                    supplied_sell = limit_liq_sell
                    for i in range(n_ticks):
                        n_buy = np.ceil(remaining_buy * (shares_buy[l, i] * inverse_buy[i]))
                        n_sell = np.ceil(remaining_sell * (shares_sell[l, i] * inverse_sell[i]))
                        pegged_buy += n_buy
                        pegged_sell += n_sell
                        supplied_buy += n_buy * weighted_buy[i]
                        supplied_sell += n_sell * weighted_sell[i]
                    margin_buy = rf_long * mid * pegged_buy
                    margin_sell = rf_short * mid * pegged_sell
                    supplied = min(supplied_buy, supplied_sell)
                margin = max(margin_buy, margin_sell)
                total_margin += margin
                per_lp[7, s, d, l] = obligation
                per_lp[8, s, d, l] = margin_buy
                per_lp[9, s, d, l] = margin_sell
                per_lp[10, s, d, l] = margin
                per_lp[11, s, d, l] = supplied
            # 10. market-level outcomes
            capital = target + total_margin
            per_day[0, s, d] = valuation
            per_day[1, s, d] = target
            per_day[2, s, d] = total
            per_day[3, s, d] = rate
            per_day[4, s, d] = fees
            per_day[5, s, d] = 365.0 * fees / total if total > 0.0 else 0.0
            per_day[6, s, d] = total_margin
            per_day[7, s, d] = 365.0 * fees / capital if capital > 0.0 else 0.0
            if target > 0.0:
                per_day[8, s, d] = total / target
            else:
                per_day[8, s, d] = 1.0 if total == 0.0 else np.inf
            per_day[9, s, d] = 1.0 if total < target else 0.0


def fused_inputs(plan) -> tuple:
    """The fused loop's arguments that every chunk shares: parameters, shapes, events."""
    from sweep.mechanism.risk import risk_factors

    scalar = plan.scalar
    rf_long, rf_short = risk_factors(scalar("mu"), scalar("sigma"), scalar("tau"), scalar("lambd"))
    params = np.array(
        [scalar("v"), scalar("k"), scalar("c2"), rf_long, rf_short, scalar("mu"),
         scalar("sigma"), scalar("tau"), scalar("tick_size")],
    )  # fmt: skip
    periods = np.array([scalar("valuation_period"), scalar("stake_target_period")], np.int64)
    shapes = plan.shapes  # (G, L, N), one row G: one num_ticks
    events = plan.events
    return (
        params, periods, float(scalar("min_probability")),
        *(np.ascontiguousarray(shapes[name][0]) for name in (
            "limit_orders_buy", "limit_orders_sell", "fractions_buy", "fractions_sell")),
        events["apply_day"].astype(np.int64), events["lp"].astype(np.int64),
        events["stake"], events["fee_bid"],
    )  # fmt: skip


def fused_chunk(plan, chunk, shared: tuple, phased: bool = False) -> dict[str, np.ndarray]:
    """One chunk by the fused loop: its paths built as the engine builds them, its outputs."""
    paths = np.arange(chunk.slices[-1].start, chunk.slices[-1].stop)
    ids = np.stack([np.zeros_like(paths), paths], axis=1)
    price, volume, oi = plan.source.build_many(ids)
    n = len(paths)
    per_day = np.empty((len(PER_DAY), n, plan.n_days))
    per_lp = np.empty((len(PER_LP), n, plan.n_days, plan.n_lp))
    fused_scenarios(price, volume, oi, *shared, phased, per_day, per_lp)
    out = dict(zip(PER_DAY, per_day, strict=True))
    out["under_supplied"] = out["under_supplied"] > 0.0
    out.update(zip(PER_LP, per_lp, strict=True))
    out.update(mark_price=price, traded_volume=volume, open_interest=oi)
    return out


def check(plan, shared: tuple) -> None:
    """Every chunk: the engine's outputs equal both fused loops', bit for bit (those of a chunk
    that writes them: a variable that does not depend on the path is written once)."""
    for chunk in plan.chunks:
        engine = compute_chunk(plan, chunk)
        for phased in (False, True):
            _check_chunk(chunk, engine, fused_chunk(plan, chunk, shared, phased))
    forget_shared(plan)


def _check_chunk(chunk, engine: dict, fused: dict) -> None:
    for name in (*CHECKED, "mark_price", "traded_volume", "open_interest"):
        if name not in engine:  # another chunk writes it (it does not depend on the path)
            continue
        # a variable without the path dimension (stakes) holds one row for every path
        got = np.broadcast_to(engine[name], fused[name].shape)
        if got.dtype != fused[name].dtype or got.tobytes() != fused[name].tobytes():
            bad = np.flatnonzero(got.ravel() != fused[name].ravel())
            raise SystemExit(f"chunk {chunk.index}: {name} differs at {bad[:5]} ...")


def stage_shares(plan) -> dict[str, float]:
    """Seconds of each stage over one pass of the engine's chunks (stages run one by one), and
    of building the chunks' paths (``(paths)``)."""
    seconds: dict[str, float] = {"(paths)": 0.0}
    forget_shared(plan)
    for chunk in plan.chunks:
        data = ChunkData(plan, chunk)
        t0 = time.perf_counter()
        data.series()
        seconds["(paths)"] += time.perf_counter() - t0
        for name in plan.stages.needed(plan.outputs):
            t0 = time.perf_counter()
            data.results[name] = STAGES[name].run(ChunkContext(data, name))
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t0
    forget_shared(plan)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=4096, help="scenarios, each its own path")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5, help="timed passes of each")
    parser.add_argument("--stages", action="store_true", help="also each stage's share")
    args = parser.parse_args()
    plan = make_plan(own_path_config(args.paths, args.days))
    shared = fused_inputs(plan)
    work = plan.n_scenarios * plan.n_days * plan.n_lp
    print(
        f"own paths: {plan.n_scenarios:,} scenarios x {plan.n_days} days x {plan.n_lp} LPs, "
        f"{len(plan.chunks)} chunks of {plan.chunk_size}, one core"
    )
    check(plan, shared)
    print(f"checked: the engine's {len(CHECKED)} outputs and the paths equal the fused loop's")

    def fused_pass(phased: bool) -> None:
        for chunk in plan.chunks:
            fused_chunk(plan, chunk, shared, phased)

    def engine_pass() -> None:
        forget_shared(plan)
        for chunk in plan.chunks:
            compute_chunk(plan, chunk)
        forget_shared(plan)

    contenders = {
        "fused loop": lambda: fused_pass(False),
        "fused loop, phased book": lambda: fused_pass(True),
        "engine (compute_chunk)": engine_pass,
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.repeat):
        for name, run in contenders.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    best = {name: min(runs) for name, runs in times.items()}
    for name, runs in times.items():
        print(
            f"  {name:24s} {best[name]:6.3f} s {work / best[name] / 1e6:6.2f} M LP-days/s "
            f"(all: {[round(t, 3) for t in runs]})"
        )
    engine = best["engine (compute_chunk)"]
    ratio = best["fused loop"] / engine
    print(f"engine / fused loop: {ratio:.2f}x (target >= {TARGET:g}x): {verdict(ratio >= TARGET)}")
    print(
        f"engine / fused loop with the engine's phased book: "
        f"{best['fused loop, phased book'] / engine:.2f}x (information)"
    )
    if args.stages:
        seconds = stage_shares(plan)
        total = sum(seconds.values())
        print(f"stages, one pass ({total:.3f} s):")
        for name, t in sorted(seconds.items(), key=lambda item: -item[1]):
            print(f"  {name:20s} {t:6.3f} s {t / total:6.1%}")


if __name__ == "__main__":
    main()
