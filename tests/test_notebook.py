"""The example notebook runs top to bottom and draws its figures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

pytestmark = pytest.mark.slow  # every notebook runs in a kernel

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "explore_results.ipynb"


def _engine_available() -> bool:
    try:
        from sweep import run  # noqa: F401
    except ImportError:
        return False
    return True


def execute(path: Path, outputs: Path, monkeypatch: pytest.MonkeyPatch, timeout: int = 600):
    """Run a notebook top to bottom as a user's kernel would, its results and figures going
    under ``outputs`` (not the checkout's outputs/); return it with its outputs and the PNG
    images it drew."""
    monkeypatch.setenv("SWEEP_OUTPUTS", str(outputs))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    )
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=timeout, kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()  # fmt: skip
    images = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    ]
    return nb, images


@pytest.mark.skipif(not _engine_available(), reason="sweep.run not available yet")
def test_explore_results_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, images = execute(NOTEBOOK, tmp_path, monkeypatch)
    assert (tmp_path / "explore_results.nc").stat().st_size > 0
    assert len(images) >= 7
    figures = sorted((tmp_path / "explore_results_figures").glob("*.png"))
    assert {"market_panels.png", "paper_stacked.png", "variant_share_rule.png"} <= {
        p.name for p in figures
    }

    # a second run loads the file written by the first instead of running the sweep again
    execute(NOTEBOOK, tmp_path, monkeypatch)


DESIGN_NOTEBOOK = ROOT / "notebooks" / "design_question.ipynb"


@pytest.mark.skipif(not _engine_available(), reason="sweep.run not available yet")
def test_design_question_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sobol' indices of the default market's knobs, and the region of v (issue 13)."""
    _, images = execute(DESIGN_NOTEBOOK, tmp_path, monkeypatch, timeout=900)
    assert (tmp_path / "design_question.nc").stat().st_size > 0
    assert len(images) >= 4
    figures = {p.name for p in (tmp_path / "design_question_figures").glob("*.png")}
    assert "sensitivity_under_supplied_share.png" in figures
