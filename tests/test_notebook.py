"""The example notebook runs top to bottom and draws its figures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "explore_results.ipynb"


def _engine_available() -> bool:
    try:
        from sweep import run  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _engine_available(), reason="sweep.run not available yet")
def test_explore_results_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the kernel writes its result and figures under tmp_path, not the checkout's outputs/
    monkeypatch.setenv("SWEEP_OUTPUTS", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    )
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()

    assert (tmp_path / "explore_results.nc").stat().st_size > 0
    images = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    ]
    assert len(images) >= 7
    figures = sorted((tmp_path / "explore_results_figures").glob("*.png"))
    assert {"market_panels.png", "paper_stacked.png", "variant_share_rule.png"} <= {
        p.name for p in figures
    }

    # a second run loads the file written by the first instead of running the sweep again
    nb2 = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        nb2,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()


DESIGN_NOTEBOOK = ROOT / "notebooks" / "design_question.ipynb"


@pytest.mark.skipif(not _engine_available(), reason="sweep.run not available yet")
def test_design_question_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sobol' indices of the default market's knobs, and the region of v (issue 13)."""
    monkeypatch.setenv("SWEEP_OUTPUTS", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    )
    nb = nbformat.read(DESIGN_NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=900, kernel_name="python3",
        resources={"metadata": {"path": str(DESIGN_NOTEBOOK.parent)}},
    ).execute()  # fmt: skip
    assert (tmp_path / "design_question.nc").stat().st_size > 0
    images = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    ]
    assert len(images) >= 4
    figures = {p.name for p in (tmp_path / "design_question_figures").glob("*.png")}
    assert "sensitivity_under_supplied_share.png" in figures
