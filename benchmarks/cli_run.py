"""Run ``sweep run`` the way users do, in a child process, and measure it.

Shared by the benchmarks that time or weigh a whole command (``bench_memory``,
``bench_summary``): the config goes to a temporary folder as TOML, the child's peak resident
set size comes from ``wait4`` (the kernel's high-water mark, so nothing between samples is
missed), and the folder is removed afterwards unless ``keep``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sweep.tomlw import dumps


@dataclass
class CliRun:
    out: Path
    seconds: float
    peak_rss: int  # bytes
    stdout: str


@contextmanager
def sweep_run(config: dict, name: str, *, keep: bool = False) -> Iterator[CliRun]:
    """``sweep run CONFIG --out FILE`` with its default execution; yields what it measured."""
    folder = Path(tempfile.mkdtemp(prefix=f"sweep-bench-{name}-"))
    try:
        path = folder / f"{name}.toml"
        path.write_text(dumps(config))
        out = folder / f"{name}.nc"
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "sweep", "run", str(path), "--out", str(out)],
            stdout=subprocess.PIPE,
            text=True,
        )
        stdout = child.stdout.read() if child.stdout else ""
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        assert os.waitstatus_to_exitcode(status) == 0, "sweep run failed"
        yield CliRun(out, elapsed, usage.ru_maxrss * 1024, stdout.strip())  # KiB on Linux
        if keep:
            print(f"kept {out}")
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
