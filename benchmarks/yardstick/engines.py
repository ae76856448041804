"""Today's whole engine (commit a7160b6) and the engine of the working tree as child processes.

:func:`old_engine` runs ``python -m sweep ARGS`` against the package of commit a7160b6:
``git archive`` of its ``sweep/`` folder is extracted once into a folder of the system's
temporary directory (kept between runs, so Numba's cache of the old kernels stays warm, as the
working tree's does), and the child finds it first on ``PYTHONPATH``. :func:`new_engine` runs
the same command against the installed (editable) package. Before the first run of each engine
in a folder, a child with the same environment and folder prints ``sweep.__file__``, and a
package from anywhere else is an error: the old engine is never the new one by mistake.

Each run is timed from start to exit, and its peak resident set size comes from ``wait4`` (the
kernel's high-water mark of that child alone).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

OLD_COMMIT = "a7160b6"
REPO = Path(__file__).resolve().parents[2]  # the git work tree holding benchmarks/

_checked: set[tuple[str, str]] = set()


@dataclass
class ChildRun:
    seconds: float  # wall time, start to exit
    peak_rss: int  # bytes
    stdout: str
    stderr: str


def old_engine_root() -> Path:
    """The folder holding ``sweep/`` of commit a7160b6, extracted on first use."""
    sha = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", f"{OLD_COMMIT}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    root = Path(tempfile.gettempdir()) / f"sweep-yardstick-{sha[:12]}"
    if (root / "sweep" / "__init__.py").exists():
        return root
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", sha, "sweep"],
        capture_output=True,
        check=True,
    ).stdout
    staging = Path(tempfile.mkdtemp(prefix=root.name + "-", dir=root.parent))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(staging, filter="data")
    try:
        staging.rename(root)
    except OSError:  # another process extracted it first
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
    return root


def run_child(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> ChildRun:
    """``args`` in a child process in ``cwd``; an exit status other than 0 is an error."""
    with tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err, text=True
        )
        stdout = child.stdout.read() if child.stdout else ""
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        err.seek(0)
        stderr = err.read()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(
            f"{' '.join(args)} exited with {code}:\n{stdout[-2000:]}\n{stderr[-4000:]}"
        )
    return ChildRun(elapsed, usage.ru_maxrss * 1024, stdout.strip(), stderr)  # KiB on Linux


def _env(pythonpath: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if pythonpath is not None:
        rest = env.get("PYTHONPATH")
        env["PYTHONPATH"] = str(pythonpath) + (os.pathsep + rest if rest else "")
    return env


def imported_from(cwd: Path, pythonpath: Path | None = None) -> Path:
    """``sweep.__file__`` as a child with this environment and folder imports it."""
    run = run_child(
        [sys.executable, "-c", "import sweep; print(sweep.__file__)"], cwd, _env(pythonpath)
    )
    return Path(run.stdout.splitlines()[-1]).resolve()


def _check(engine: str, cwd: Path, pythonpath: Path | None, expected: Path) -> None:
    key = (engine, str(Path(cwd).resolve()))
    if key in _checked:
        return
    found = imported_from(cwd, pythonpath)
    if found.parent != expected.resolve():
        raise RuntimeError(f"the {engine} engine imports {found}, not the package in {expected}")
    print(f"{engine} engine: sweep from {found}", flush=True)
    _checked.add(key)


def old_engine(args: list[str], cwd: Path) -> ChildRun:
    """``python -m sweep ARGS`` in ``cwd`` with the package of commit a7160b6."""
    root = old_engine_root()
    _check("old", cwd, root, root / "sweep")
    return run_child([sys.executable, "-m", "sweep", *args], cwd, _env(root))


def new_engine(args: list[str], cwd: Path) -> ChildRun:
    """``python -m sweep ARGS`` in ``cwd`` with the installed package (the working tree)."""
    _check("new", cwd, None, REPO / "sweep")
    return run_child([sys.executable, "-m", "sweep", *args], cwd, _env(None))


ENGINES = {"old": old_engine, "new": new_engine}
