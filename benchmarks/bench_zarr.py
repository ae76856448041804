"""A zarr store of an own-path sweep against its compute alone, and the store's creation (issue
23, "Zarr").

Run: ``python benchmarks/bench_zarr.py [--paths N] [--days D] [--repeat R]`` (default 4,096
scenarios x 365 days x 4 LPs, each scenario on its own GBM path: ``bench_fused``'s
``own_path_config``, every output of every day, about 516 MB raw). Timed, interleaved, best of
``--repeat`` each, in this run:

- "compute": ``sweep.engine.compute.compute_chunk`` over every chunk, one core, results
  dropped (``timing.compute_seconds``);
- "zarr, N workers": ``sweep.run(config, out=STORE, workers=N)``, from the call to the
  finished, renamed store (the disk cache flushed first, untimed), for ``N`` = 1 and the
  default (``workers=None``: one thread per core this process may use);
- "store creation": ``ZarrStore.prepare`` of a new local store (the layout's every array, the
  coordinates and small variables, and the run's header), warm: what a run spends before its
  first chunk.

Targets (issue 23): compute / "zarr, 1 worker" and compute / "zarr, default workers" >= 0.5;
store creation < 0.1 s (PASS/FAIL). The machine is shared: every run's times are printed, and
the CPU seconds of each (every thread of the process; compute's include its untimed first
chunk), which the machine's other load does not change.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_fused import own_path_config
from timing import compute_seconds, verdict

import sweep
from sweep.engine.plan import make_plan
from sweep.storage.layout import result_layout
from sweep.storage.zarr_store import ZarrStore

RUN_TARGET = 0.5
CREATE_TARGET = 0.1  # seconds


CPU: dict[str, list[float]] = {}  # CPU seconds of the process (every thread) in each run


def run_seconds(config: dict, out: Path, workers: int | None, name: str = "") -> float:
    """Config to finished store, from a flushed disk cache."""
    shutil.rmtree(out, ignore_errors=True)
    os.sync()
    t0, cpu = time.perf_counter(), time.process_time()
    sweep.run(config, out=out, workers=workers).close()
    CPU.setdefault(name, []).append(time.process_time() - cpu)
    return time.perf_counter() - t0


def create_seconds(layout, out: Path) -> float:
    """A new store laid out (``prepare``: what ``sweep.run`` does before the first chunk)."""
    store = ZarrStore(out)
    shutil.rmtree(store.location, ignore_errors=True)
    t0 = time.perf_counter()
    store.prepare(layout, overwrite=True, resume=False)
    seconds = time.perf_counter() - t0
    shutil.rmtree(store.location, ignore_errors=True)
    return seconds


def store_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=4096, help="scenarios, each its own path")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    config = own_path_config(args.paths, args.days)
    plan = make_plan(config)
    layout = result_layout(plan)
    folder = Path(tempfile.mkdtemp(prefix="sweep-bench-zarr-"))
    times: dict[str, list[float]] = {
        "compute": [], "zarr, 1 worker": [], "zarr, default workers": [], "store creation": [],
    }  # fmt: skip
    size = 0
    try:
        out = folder / "r.zarr"
        warm = own_path_config(64, args.days)  # compiled kernels loaded, zarr's codecs too
        run_seconds(warm, out, workers=1)
        run_seconds(warm, out, workers=None)
        create_seconds(layout, folder / "c.zarr")
        for _ in range(args.repeat):
            cpu = time.process_time()
            times["compute"].append(compute_seconds(plan, repeat=1))
            CPU.setdefault("compute", []).append(time.process_time() - cpu)  # with its warm-up
            for name, workers in (("zarr, 1 worker", 1), ("zarr, default workers", None)):
                times[name].append(run_seconds(config, out, workers, name))
                size = store_bytes(out)
            for _ in range(3):  # short: three a round
                times["store creation"].append(create_seconds(layout, folder / "c.zarr"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    best = {name: min(t) for name, t in times.items()}
    work = plan.n_scenarios * plan.n_days * plan.n_lp
    raw = sum(int(np.prod(layout.shape(n))) * layout.dtype(n).itemsize for n in layout.variables)
    print(
        f"own paths: {plan.n_scenarios:,} scenarios x {plan.n_days} days x {plan.n_lp} LPs, "
        f"{len(plan.chunks)} chunks, {len(os.sched_getaffinity(0))} cores; raw "
        f"{raw / 1e6:,.1f} MB, store {size / 1e6:,.1f} MB; best of {args.repeat}"
    )
    for name, seconds in best.items():
        rate = "" if name == "store creation" else f"  {work / seconds / 1e6:7.2f} M LP-days/s"
        print(f"  {name:22s} {seconds:7.3f} s{rate}  (all: {np.round(times[name], 3).tolist()})")
    for name, cpu in CPU.items():  # the work done, whatever the machine's other load left us
        if name:
            print(f"  {name}: CPU {np.round(cpu, 2).tolist()} s")
    for workers in ("1 worker", "default workers"):
        ratio = best["compute"] / best[f"zarr, {workers}"]
        print(
            f"zarr store ({workers}) / compute alone: {ratio:.2f}x "
            f"(target >= {RUN_TARGET}): {verdict(ratio >= RUN_TARGET)}"
        )
    create = best["store creation"]
    print(
        f"store creation: {create:.3f} s (target < {CREATE_TARGET} s): "
        f"{verdict(create < CREATE_TARGET)}"
    )


if __name__ == "__main__":
    main()
