"""The engine of the working tree against the engine of a git revision, before and after a
change, in one run: the workloads of ``bench_kernel.py``, ``bench_variants.py`` and
``bench_fused.py``.

Run: ``python benchmarks/compare_trees.py REV [--repeat R] [--scenarios N] [--only TEXT]``.
``REV`` (a commit, branch or tag) is exported with ``git archive`` to a temporary directory.
Each workload is timed as :func:`timing.compute_seconds` times it (``compute_chunk`` over
every chunk of the plan, one core, after an untimed warm-up call; one pass) in a child process
per tree, the two trees alternating, ``--repeat`` children each (default 3); the best of each is
kept. The configs are the working tree's benchmarks', so both engines run the same ones (a
revision must understand them: across a change of the config schema, compare workloads both
read). Workloads (``--only`` keeps those whose label contains TEXT):

- ``kernel``: bench_kernel's core grid (``--scenarios``, default 20,000 scenarios x 365 days
  x 4 LPs, one market path);
- ``variants: <rule>``: bench_variants' default rules and every variant, on the same grid;
- ``fused``: bench_fused's own-path sweep (4,096 scenarios, each on its own path).

Prints each workload's best time for both trees and their ratio (``> 1``: the working tree is
faster), and every child's time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# timing.compute_seconds, with the engine's modules where the tree has them (they moved into
# sweep/engine/ in issue 21): one pass after an untimed warm-up call
CHILD = """
import json, os, sys, time
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
sys.path.insert(0, sys.argv[1])
import sweep
assert os.path.dirname(os.path.dirname(sweep.__file__)) == sys.argv[1], sweep.__file__
try:
    from sweep.engine.compute import compute_chunk
    from sweep.engine.plan import make_plan
    try:
        from sweep.engine.shared import forget_shared
    except ImportError:
        from sweep.engine.compute import forget_shared
except ImportError:
    from sweep.compute import compute_chunk, forget_shared
    from sweep.scenarios import make_plan
plan = make_plan(json.loads(sys.argv[2]))
compute_chunk(plan, plan.chunks[0])
forget_shared(plan)
t0 = time.perf_counter()
for chunk in plan.chunks:
    compute_chunk(plan, chunk)
print(json.dumps(time.perf_counter() - t0))
"""


def workloads(n_scenarios: int) -> dict[str, dict]:
    """Label -> config of every workload."""
    sys.path.insert(0, str(HERE))
    from bench_fused import own_path_config
    from bench_kernel import core_config
    from bench_variants import VARIANTS, variant_config
    from grid import DAYS

    out = {"kernel": core_config(n_scenarios)}
    for label, mechanism, sla, _ in VARIANTS:
        out[f"variants: {label}"] = variant_config(n_scenarios, mechanism, sla)
    out["fused"] = own_path_config(4096, DAYS)
    return out


def child_seconds(tree: Path, config: dict) -> float:
    """``compute_seconds`` of ``config`` with the engine of ``tree``, in a child process."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(tree), json.dumps(config)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode:
        raise SystemExit(f"the engine of {tree} failed:\n{proc.stderr[-2000:]}")
    return float(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the git revision to compare the working tree with")
    parser.add_argument("--repeat", type=int, default=3, help="child runs of each tree")
    parser.add_argument("--scenarios", type=int, default=20_000)
    parser.add_argument("--only", default="", help="workloads whose label contains this")
    args = parser.parse_args()
    todo = {k: v for k, v in workloads(args.scenarios).items() if args.only in k}
    with tempfile.TemporaryDirectory(prefix="sweep-rev-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.rev], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        trees = {args.rev: Path(tmp), "working tree": ROOT}
        print(f"compute_chunk, one core, best of {args.repeat} children per tree")
        print(f"{'workload':40} {args.rev:>12} {'working tree':>13} {'ratio':>7}")
        for label, config in todo.items():
            times: dict[str, list[float]] = {name: [] for name in trees}
            for _ in range(args.repeat):
                for name, tree in trees.items():
                    times[name].append(child_seconds(tree, config))
            before, after = min(times[args.rev]), min(times["working tree"])
            print(
                f"{label:40} {before:11.3f}s {after:12.3f}s {before / after:6.2f}x  "
                f"(all: {[round(t, 3) for t in times[args.rev]]} / "
                f"{[round(t, 3) for t in times['working tree']]})",
                flush=True,
            )


if __name__ == "__main__":
    main()
