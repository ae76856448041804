"""Run ``sweep run`` the way users do, in a child process, and measure it, with the engine of
the working tree or with today's (commit a7160b6, the yardstick).

Shared by the benchmarks that time or weigh a whole command (``bench_memory``,
``bench_summary``, ``bench_kernel``): the config goes to a temporary folder as TOML, the child
runs in that folder (``yardstick.old_engine`` / ``yardstick.new_engine``: the old one imports
the package of a7160b6, checked once by printing ``sweep.__file__``), its peak resident set
size comes from ``wait4`` (the kernel's high-water mark, so nothing between samples is missed),
and the folder is removed afterwards unless ``keep``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yardstick import ENGINES
from yardstick.tomlw_v0 import dumps


@dataclass
class CliRun:
    out: Path
    seconds: float
    peak_rss: int  # bytes
    stdout: str


def _run(engine: str, folder: Path, config: str, out: str, options: Sequence[str]) -> CliRun:
    run = ENGINES[engine](["run", config, "--out", out, *options], folder)
    return CliRun(folder / out, run.seconds, run.peak_rss, run.stdout)


@contextmanager
def sweep_run(
    config: dict,
    name: str,
    *,
    keep: bool = False,
    engine: str = "new",
    options: Sequence[str] = (),
) -> Iterator[CliRun]:
    """``sweep run CONFIG --out FILE [options]`` (default execution unless ``options`` say
    otherwise) with the ``engine`` ``"new"`` or ``"old"``; yields what it measured."""
    folder = Path(tempfile.mkdtemp(prefix=f"sweep-bench-{name}-"))
    try:
        (folder / f"{name}.toml").write_text(dumps(config))
        yield _run(engine, folder, f"{name}.toml", f"{name}.nc", options)
        if keep:
            print(f"kept {folder / f'{name}.nc'}")
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Comparison:
    runs: dict[str, list[CliRun]] = field(default_factory=dict)  # engine -> runs, in order
    measured: dict[str, Any] = field(default_factory=dict)  # engine -> measure(first file)

    def best(self, engine: str) -> CliRun:
        return min(self.runs[engine], key=lambda run: run.seconds)

    def ratio(self) -> float:
        """Old time / new time, of the best runs: how many times faster the new engine is."""
        return self.best("old").seconds / self.best("new").seconds


def old_vs_new(
    config: dict,
    name: str,
    *,
    options: Sequence[str] = (),
    repeat: int = 1,
    warm: dict | None = None,
    measure: Callable[[Path], Any] | None = None,
) -> Comparison:
    """``sweep run CONFIG --out FILE [options]`` with both engines, alternating old and new
    ``repeat`` times, in one temporary folder.

    ``warm``: a small config each engine runs first, untimed (Numba's cache loaded or filled,
    the libraries in the page cache). Before each timed run the previous file is removed and
    the disk cache flushed (``os.sync()``, untimed), so no run pays for another's writeback.
    ``measure(path)`` is called on each engine's first result file, before it is removed.
    """
    folder = Path(tempfile.mkdtemp(prefix=f"sweep-bench-{name}-"))
    result = Comparison({"old": [], "new": []})
    try:
        (folder / "config.toml").write_text(dumps(config))
        if warm is not None:
            (folder / "warm.toml").write_text(dumps(warm))
            for engine in result.runs:
                _run(engine, folder, "warm.toml", "warm.nc", options)
                (folder / "warm.nc").unlink()
        for _ in range(repeat):
            for engine, runs in result.runs.items():
                os.sync()
                run = _run(engine, folder, "config.toml", f"{engine}.nc", options)
                runs.append(run)
                if measure is not None and engine not in result.measured:
                    result.measured[engine] = measure(run.out)
                run.out.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return result
