"""The README's tables that come from the code stay as the code says."""

from __future__ import annotations

from pathlib import Path

from sweep.mechanism.rules import RULES, markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_rules_table_is_the_registry():
    text = README.read_text()
    assert markdown_table() in text, "re-render the README's rules table from the registry"


def test_every_rule_value_is_in_the_config_reference():
    text = README.read_text()
    for rule in RULES.values():
        for name in rule.names:
            assert f"`{name}`" in text, (rule.key, name)


def python_blocks() -> list[str]:
    blocks, current = [], None
    for line in README.read_text().splitlines():
        if line.startswith("```python"):
            current = []
        elif line.startswith("```") and current is not None:
            blocks.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def test_the_python_snippets_run(tmp_path, monkeypatch):
    """Every Python snippet of the README runs, in order, after the quick start's `sweep run`
    (those that need a batch system's extra package are only compiled)."""
    import matplotlib

    matplotlib.use("Agg")
    from sweep.cli.main import main

    monkeypatch.chdir(tmp_path)
    assert main(["run"]) == 0  # the quick start: outputs/default.nc
    namespace: dict = {}
    blocks = python_blocks()
    assert len(blocks) >= 4
    for block in blocks:
        code = compile(block, "README.md", "exec")
        if "dask_jobqueue" in block:
            continue
        exec(code, namespace)
    namespace["ds"].close()
