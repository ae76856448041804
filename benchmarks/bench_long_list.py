"""Memory and time of a sweep over one long list against a grid of the same size.

Issue "Reliability": a ``v`` list of 10^6 values took 7.6 GB and 25 s (with Dask "large graph"
warnings) where a 1000 x 1000 grid of the same size took 0.5 GB and 4 s: the plan (which holds
every swept value) travelled inside every task. Target: the same order of memory and time for
both shapes, and no "large graph" warning.

Run: ``python benchmarks/bench_long_list.py [--values N] [--backend threads|dask|both]
[--chunk-size N]``. ``PYTHONPATH`` reaches every child (scheduler and worker included), so
``PYTHONPATH=<an older sweep/'s parent>`` measures that code instead.
Each sweep (``reduce = "summary"``, a constant path of 30 days, one LP) runs as ``sweep run
CONFIG --out FILE`` in a child process, in a fresh temporary folder:

- ``threads``: the default execution (threads in the ``sweep run`` process);
- ``dask``: against a ``dask scheduler`` and one ``dask worker --no-nanny --nthreads 2``
  started for that run alone on 127.0.0.1, so each process's peak is that run's.

Peak resident set sizes: of ``sweep run`` (``ru_maxrss`` of a child, the kernel's high-water
mark), of the scheduler and the worker from ``VmHWM`` in ``/proc/PID/status`` read just before
they stop.

Measured on the 2-core development VM (10^6 values; "before": the plan inside every task and
the config read twice, commit c3f1aa7; "after": the plan shipped once):

    --chunk-size 1000, dask   long list  before 200.9 s, 1.62 GB in all, 1 "large graph"
                                          after   22.3 s, 0.97 GB, none
                              1000 x 1000 grid     14.4 s, 0.76 GB
    automatic chunks, dask    long list  before  50.9 s, 1.65 GB (worker 0.82 GB), 1 warning
                                          after   17.7 s, 1.06 GB (worker 0.44 GB), none
                              grid                15.7 s, 0.87 GB
    automatic chunks, threads long list  before  30.3 s, 0.50 GB; after 11.5 s, 0.45 GB
                              grid                 6.5 s, 0.35 GB

What the long list still costs over the grid is reading 10 MB of TOML (tomllib, about 5 s).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tomli_w import dumps  # noqa: E402


def config(name: str, v: list[float], c2: list[float] | None = None) -> dict:
    network: dict = {"v": v}
    if c2 is not None:
        network["c2"] = c2
    return {
        "name": name,
        "sweep": {"days": 30, "reduce": "summary"},
        "path": {"kind": "constant", "mark_price": 1000.0, "traded_volume": 1e6},
        "network": network,
        "lp": [
            {
                "name": "A",
                "shape": "uniform",
                "commit": [{"day": 1, "stake": 1000.0, "fee_bid": 0.001}],
            }
        ],
    }


def peak_of(pid: int) -> int:
    """The peak resident set size of a running process, in bytes (``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def dask_command() -> list[str]:
    script = Path(sys.executable).with_name("dask")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dask"]


def measure(name: str, cfg: dict, backend: str, options: tuple[str, ...] = ()) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"sweep-bench-{name}-"))
    started: list[subprocess.Popen] = []
    try:
        (folder / f"{name}.toml").write_text(dumps(cfg))
        command = [
            sys.executable,
            "-m",
            "sweep",
            "run",
            f"{name}.toml",
            "--out",
            f"{name}.nc",
            *options,
        ]
        if backend == "dask":
            log = open(folder / "cluster.log", "w")  # noqa: SIM115
            sched_file = folder / "scheduler.json"
            started.append(
                subprocess.Popen(
                    [
                        *dask_command(),
                        "scheduler",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        "0",
                        "--no-dashboard",
                        "--scheduler-file",
                        str(sched_file),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=folder,
                )
            )
            deadline = time.monotonic() + 60
            while not sched_file.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.2)
            address = json.loads(sched_file.read_text())["address"]
            started.append(
                subprocess.Popen(
                    [
                        *dask_command(),
                        "worker",
                        "--scheduler-file",
                        str(sched_file),
                        "--nthreads",
                        "2",
                        "--no-nanny",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=folder,
                )
            )
            from distributed import Client

            with Client(address, timeout="20s", set_as_default=False) as client:
                client.wait_for_workers(1, timeout=60)
            command += ["--scheduler", address]
        # a fresh child per run: its own ru_maxrss
        probe = (
            "import os, subprocess, sys, time, resource;"
            "t = time.perf_counter();"
            "p = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
            "s = time.perf_counter() - t;"
            "r = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024;"
            "sys.stdout.write(repr((p.returncode, s, r, p.stdout, p.stderr)))"
        )
        out = subprocess.run(
            [sys.executable, "-c", probe, *command],
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rc, seconds, peak, stdout, stderr = eval(out)  # noqa: S307 - our own repr
        if rc != 0:
            raise SystemExit(f"sweep run failed:\n{stderr}")
        row = {
            "name": name,
            "backend": backend,
            "seconds": seconds,
            "client": peak,
            "large_graph_warnings": stderr.count("large graph"),
        }
        if backend == "dask":
            row["scheduler"] = peak_of(started[0].pid)
            row["worker"] = peak_of(started[1].pid)
        row["total"] = row["client"] + row.get("scheduler", 0) + row.get("worker", 0)
        row["stdout"] = stdout.strip()
        return row
    finally:
        for proc in reversed(started):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=10**6, help="scenarios (a square number)")
    parser.add_argument("--backend", choices=("threads", "dask", "both"), default="both")
    parser.add_argument("--chunk-size", type=int, help="scenarios per chunk (default: automatic)")
    args = parser.parse_args()
    options = ("--chunk-size", str(args.chunk_size)) if args.chunk_size else ()
    side = math.isqrt(args.values)
    values = [1.0 + i * 1e-3 for i in range(args.values)]
    cases = {
        "long_list": config("long_list", values),
        "grid": config("grid", values[:side], values[:side]),
    }
    backends = ("threads", "dask") if args.backend == "both" else (args.backend,)
    for backend in backends:
        for name, cfg in cases.items():
            row = measure(name, cfg, backend, options)
            peaks = ", ".join(
                f"{k} {row[k] / 1e9:.2f} GB"
                for k in ("client", "scheduler", "worker", "total")
                if k in row
            )
            print(
                f"{backend:7s} {name:9s} {row['seconds']:6.1f} s  peak RSS: {peaks}; "
                f"'large graph' warnings: {row['large_graph_warnings']}"
            )
            print(f"        {row['stdout']}")


if __name__ == "__main__":
    main()
