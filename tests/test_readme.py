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
