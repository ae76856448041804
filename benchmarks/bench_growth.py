"""Growth of cost with size: what a longer window, more amendments or more LPs cost the engine.

Run: ``python benchmarks/bench_growth.py [--scenarios N] [--repeat R] [--only a,b,c]``.
Each test times two configs that differ in one size with the new engine
(``sweep.engine.compute.compute_chunk`` over ``make_plan(config).chunks``, after a warm-up) and
reports the ratio of the two times, measured in this run; the same ratio with today's engine
(the frozen kernel of commit a7160b6 alone, ``yardstick.old_kernel_seconds``) shows what the
change is worth. Passes over the two configs and the two engines take turns, ``--repeat``
rounds (default 3), and the best time of each is kept. Sweeps keep statistics
(``reduce = "summary"``) over a grid like the core grid: ``v`` x ``k`` (5 values) x 2 Monte
Carlo paths, ``--scenarios`` scenarios (default 4,000) on 365-day paths, a tenth of them on
3650-day paths (the same LP-days). One core (``NUMBA_NUM_THREADS=1``).

- (a) a 3650-day path with ``stake_target_period = valuation_period = 3650`` against both = 1.
  Target: within 1.5x.
- (a') the same path with windows of half of it (1825 days) against 1: for information.
- (b) 100 amendments per LP (commit lists of 101 events alternating increases and decreases,
  spread from each LP's entry to the end of the path) against one commitment per LP (its
  entry). Target: within 1.5x.
- (c) 64 LPs against 16 LPs, time per LP-day. Target: within 1.5x.

Prints PASS/FAIL per target (the new engine's ratio; today's is for comparison).
"""

from __future__ import annotations

import argparse
import copy
import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

from grid import DAYS, LPS, PATH, K  # noqa: E402
from timing import compute_seconds, lp_days, verdict  # noqa: E402
from yardstick import old_kernel_seconds  # noqa: E402

TARGET = 1.5
PATHS = 2
LONG_DAYS = 3650
SHAPES = ("aggressive", "uniform", "passive", "uniform")


def config(
    n_scenarios: int,
    days: int = DAYS,
    lps: list[dict] | None = None,
    **network,
) -> dict:
    """v x k (5 values) x 2 paths, ``n_scenarios`` of them, statistics over days."""
    n_v = max(1, round(n_scenarios / (len(K) * PATHS)))
    path = dict(PATH)
    if days > DAYS:
        path["volatility"] = 0.5  # ten years at 80% could take the price below the book
    return {
        "name": "bench-growth",
        "sweep": {"days": days, "seed": 1, "paths": PATHS, "reduce": "summary"},
        "path": path,
        "network": {"v": [1.0 + 0.5 * i for i in range(n_v)], "k": list(K), **network},
        "lp": copy.deepcopy(LPS) if lps is None else lps,
    }


def amended(n_events: int, days: int = DAYS) -> list[dict]:
    """The grid's LPs, each with ``n_events`` commitments from its entry to the end of the
    path: the entry, then alternately a cut to 60% and a rise above it (with a new bid)."""
    lps = copy.deepcopy(LPS)
    for lp in lps:
        first = lp["commit"][0]
        stake, bid, start = first["stake"], first["fee_bid"], first["day"]
        step = (days - 2 - start) / max(n_events - 1, 1)
        events = [dict(first)]
        for j in range(1, n_events):
            day = round(start + j * step, 3)
            if j % 2:
                events.append({"day": day, "stake": 0.6 * stake})
            else:
                events.append(
                    {"day": day, "stake": stake * (1 + 0.02 * j), "fee_bid": bid * (1 + j % 4 / 20)}
                )
        lp["commit"] = events
    return lps


def many(n_lps: int) -> list[dict]:
    """``n_lps`` LPs of the grid's four shapes, entering at different days, half amending."""
    lps = []
    for i in range(n_lps):
        entry = {"day": (7 * i) % 200, "stake": 1e5 * (1 + i % 5), "fee_bid": 0.001 * (1 + i % 7)}
        commit = [entry]
        if i % 2:
            commit.append({"day": 200 + (3 * i) % 150, "stake": 5e4 * (1 + i % 3)})
        lps.append({"name": f"lp{i:02d}", "shape": SHAPES[i % len(SHAPES)], "commit": commit})
    return lps


def tests(n: int) -> dict[str, tuple[str, dict, dict, bool, bool]]:
    """key -> (what, big config, small config, per LP-day, has a target)."""
    long = n // 10
    one = config(long, LONG_DAYS, stake_target_period=1, valuation_period=1)
    return {
        "a": (
            f"{LONG_DAYS}-day path, windows {LONG_DAYS} vs 1",
            config(long, LONG_DAYS, stake_target_period=LONG_DAYS, valuation_period=LONG_DAYS),
            one,
            False,
            True,
        ),
        "a'": (
            f"{LONG_DAYS}-day path, windows {LONG_DAYS // 2} vs 1",
            config(
                long, LONG_DAYS, stake_target_period=LONG_DAYS // 2, valuation_period=LONG_DAYS // 2
            ),
            one,
            False,
            False,
        ),
        "b": (
            "101 commitments per LP vs 1",
            config(n, lps=amended(101)),
            config(n, lps=amended(1)),
            False,
            True,
        ),
        "c": (
            "64 LPs vs 16, per LP-day",
            config(n, lps=many(64)),
            config(n, lps=many(16)),
            True,
            True,
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=4_000, help="on 365-day paths")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="a,a',b,c", help="tests to run, e.g. a,b")
    args = parser.parse_args()
    chosen = [key.strip() for key in args.only.split(",")]

    def side_by_side(big: dict, small: dict) -> tuple[float, float, float, float]:
        """Best seconds of (new big, new small, old big, old small), one pass of each in
        turn per round: a burst of a neighbour's load hits one pass, not one config."""
        best = [float("inf")] * 4
        for _ in range(args.repeat):
            times = (
                compute_seconds(big, repeat=1),
                compute_seconds(small, repeat=1),
                old_kernel_seconds(big, repeat=1)[0],
                old_kernel_seconds(small, repeat=1)[0],
            )
            best = [min(b, t) for b, t in zip(best, times, strict=True)]
        return best[0], best[1], best[2], best[3]

    print(
        f"reduce = summary, v x k x {PATHS} paths, {args.scenarios:,} scenarios x {DAYS} days "
        f"or {args.scenarios // 10:,} x {LONG_DAYS}; one core, best of {args.repeat}"
    )
    print(
        f"{'test':44} {'unit':>9} {'new: big':>9} {'small':>9} {'ratio':>6}   "
        f"{'old: big':>9} {'small':>9} {'ratio':>6}"
    )
    verdicts = []
    for key, (what, big, small, per_lp_day, has_target) in tests(args.scenarios).items():
        if key not in chosen:
            continue
        new_big, new_small, old_big, old_small = side_by_side(big, small)
        if per_lp_day:
            new_big, old_big = new_big / lp_days(big), old_big / lp_days(big)
            new_small, old_small = new_small / lp_days(small), old_small / lp_days(small)
        unit, scale = ("ns/LP-day", 1e9) if per_lp_day else ("s", 1.0)
        new_ratio, old_ratio = new_big / new_small, old_big / old_small
        if has_target:
            result = f"(target <= {TARGET}x) {verdict(new_ratio <= TARGET)}"
            verdicts.append(new_ratio <= TARGET)
        else:
            result = "(information)"
        print(
            f"{'(' + key + ') ' + what:44} {unit:>9} {new_big * scale:9.3f} "
            f"{new_small * scale:9.3f} {new_ratio:5.2f}x   {old_big * scale:9.3f} "
            f"{old_small * scale:9.3f} {old_ratio:5.2f}x  {result}"
        )
    if verdicts:
        print(f"all growth targets: {verdict(all(verdicts))}")


if __name__ == "__main__":
    main()
