"""The README's snippets, and those of the guide pages in docs/, run as a reader runs them.

Each Python snippet runs alone, in a fresh namespace (a reader copies one, not the page), in a
folder where the quick start's ``sweep run`` has written ``outputs/default.nc``; the one that
needs a batch system's extra package (dask_jobqueue) is only compiled. The README's bash
snippets that only call ``sweep`` (cheap: no install, no docs build) run as subprocesses there
too, and the pages' TOML snippets are valid TOML (the complete config a checked config).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GUIDES = [ROOT / "docs" / name for name in ("guide.md", "running.md", "results.md")]


def blocks(path: Path, language: str) -> list[str]:
    """The fenced code blocks of ``language`` in a Markdown file, in order."""
    found, current = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        if current is None and line.strip() == f"```{language}":
            current = []
        elif current is not None and line.strip() == "```":
            found.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return found


def python_snippets() -> list:
    """Each Python snippet as a test case; the guide pages' run whole sweeps (slow)."""
    return [
        pytest.param(
            path.name,
            i,
            code,
            id=f"{path.name}-{i + 1}",
            marks=() if path == README else pytest.mark.slow,
        )
        for path in (README, *GUIDES)
        for i, code in enumerate(blocks(path, "python"))
    ]


@pytest.fixture(scope="module")
def quick_start(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder where the quick start ran: ``outputs/default.nc``."""
    from sweep.cli.main import main

    folder = tmp_path_factory.mktemp("reader")
    here = Path.cwd()
    os.chdir(folder)
    try:
        assert main(["run", "--quiet"]) == 0
    finally:
        os.chdir(here)
    yield folder


def test_the_pages_have_snippets() -> None:
    assert len(blocks(README, "python")) >= 1 and len(blocks(README, "bash")) >= 2
    assert len(python_snippets()) >= 6


@pytest.mark.parametrize(("page", "index", "code"), python_snippets())
def test_each_python_snippet_runs_alone(
    quick_start: Path, monkeypatch: pytest.MonkeyPatch, page: str, index: int, code: str
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    compiled = compile(code, f"{page}, Python snippet {index + 1}", "exec")
    if "dask_jobqueue" in code:
        return  # needs a batch system; compiled only
    monkeypatch.chdir(quick_start)
    namespace: dict = {"__name__": "__main__"}
    exec(compiled, namespace)
    for value in namespace.values():
        if hasattr(value, "close") and type(value).__name__ == "Dataset":
            value.close()


def cheap_commands() -> list[str]:
    """The README's bash lines that only call ``sweep`` (comments dropped)."""
    commands = []
    for block in blocks(README, "bash"):
        lines = [line.split("  #")[0].strip() for line in block.splitlines()]
        lines = [line for line in lines if line]
        if lines and all(line.startswith("sweep ") for line in lines):
            commands.extend(lines)
    return commands


@pytest.mark.slow
def test_the_cheap_bash_snippets_run(quick_start: Path) -> None:
    commands = cheap_commands()
    assert {"sweep examples", "sweep info outputs/default.nc"} <= set(commands)
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "MPLBACKEND": "Agg"}
    for command in commands:
        args = [sys.executable, "-m", "sweep", *command.split()[1:]]
        if args[3:4] == ["run"]:
            args.append("--overwrite")  # the folder is shared by the snippets
        done = subprocess.run(args, cwd=quick_start, env=env, capture_output=True, text=True,
                              timeout=900)  # fmt: skip
        assert done.returncode == 0, (command, done.stderr)
        assert done.stdout.strip(), command


@pytest.mark.parametrize("page", [README, *GUIDES], ids=lambda p: p.name)
def test_toml_snippets_are_valid(page: Path) -> None:
    from sweep.config.load import load_config

    for text in blocks(page, "toml"):
        data = tomllib.loads(text)
        if "name" in data and "lp" in data:  # a whole config: it passes the checks too
            load_config(data)


def test_the_readme_keeps_to_what_a_newcomer_needs() -> None:
    """Quick start, a first result, where the docs are, the benchmarks; no history."""
    text = README.read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings == ["Quick start", "A first result", "Documentation", "Benchmarks"]
    commit = r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}\b"
    assert not re.search(commit, text), "a commit hash in user text"
    assert not re.search(r"\bissue \d+", text, re.I), "issue history in user text"
    assert "MECHANISM.md" not in text
    assert len(text.splitlines()) < 150
