"""Sphinx directives that render the config reference and the mechanism's tables from the code.

The config checks read the same registries (``sweep.config.schema.PARAMS``, ``SWEEP_KEYS``,
``PATH_PARAMS``, ``TOP_KEYS``, ``LP_KEYS``, ``COMMIT_KEYS``; ``sweep.config.design.DESIGN_KEYS``;
``sweep.mechanism.rules.RULES``; ``sweep.mechanism.presets.PRESETS``;
``sweep.mechanism.variables``), so the reference cannot drift from what a config accepts. A
registry entry without its doc text is a build error, not an empty cell.

- ``.. sweep-config-table:: SECTION`` -- one table of ``[SECTION]`` keys (``sweep``,
  ``network``, ``risk``, ``market``, ``mechanism``, ``sla``; ``path-gbm``, ``path-csv``,
  ``path-table``, ``path-constant``; ``top``, ``lp``, ``commit``);
- ``.. sweep-rules-table::`` -- every rule key, its step and its values (first = default);
- ``.. sweep-presets-table::`` -- what each preset sets;
- ``.. sweep-variables-table::`` -- every result variable with its units and meaning;
- ``.. sweep-examples-table::`` -- the shipped configs (``sweep.examples``) and what each shows.
"""

from __future__ import annotations

import re
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util.docutils import SphinxDirective


def _literal(value: Any) -> str:
    """A default as the TOML a user would write, as an inline literal."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return f"``{str(value).lower()}``"
    if isinstance(value, str):
        return f'``"{value}"``'
    if isinstance(value, float):
        return f"``{value:g}``" if abs(value) < 1e-3 or abs(value) >= 1e6 else f"``{value!r}``"
    return f"``{value}``"


def _cell(text: str) -> str:
    """Registry prose as reST: backticks there are code, as in Markdown."""
    return text.replace("``", "`").replace("`", "``") if text else ""


def _require(where: str, key: str, text: str) -> str:
    if not text:
        raise ExtensionError(f"{where} {key}: the registry gives no doc text for it")
    return _cell(text)


def _list_table(header: list[str], rows: list[list[str]], widths: str, name: str) -> list[str]:
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}",
             f"   :class: sweep-table {name}", ""]  # fmt: skip
    for row in [header, *rows]:
        first, *rest = row
        lines.append(f"   * - {first}")
        lines.extend(f"     - {cell}" for cell in rest)
    return lines


def _allowed(bounds: str) -> str:
    """A key's allowed values as reST: its quoted strings as literals; no bounds: any."""
    return re.sub(r'"([^"]*)"', r'``"\1"``', bounds) or "any"


def _param_rows(where: str, specs: dict) -> list[list[str]]:
    from sweep.config.schema import _type_name

    rows = []
    for key, spec in specs.items():
        kind = _type_name(spec.kind).split()[-1]
        rows.append(
            [
                f"``{key}``",
                kind if spec.sweepable else f"{kind}, one value",
                _literal(spec.default),
                _allowed(spec.bounds),
                f"``{spec.units}``" if spec.units else "",
                _require(where, key, spec.doc),
            ]
        )
    return rows


PARAM_HEADER = ["key", "type", "default", "allowed", "units", "meaning"]
PARAM_WIDTHS = "16 11 12 17 8 36"  # fixed (docs/_static/sweep.css): meaning stays in view


def config_table(section: str) -> list[str]:
    """The reST lines of one section's table."""
    from sweep.config.schema import (
        COMMIT_KEYS,
        LP_KEYS,
        PARAMS,
        PATH_PARAMS,
        SWEEP_KEYS,
        SWEEP_OTHER_KEYS,
        TOP_KEYS,
    )

    name = f"config-table-{section}"
    if section == "sweep":
        rows = _param_rows("[sweep]", SWEEP_KEYS)
        for key, spec in SWEEP_OTHER_KEYS.items():
            rows.append(
                [
                    f"``{key}``",
                    spec.kind,
                    _literal(spec.default),
                    _allowed(spec.allowed),
                    f"``{spec.units}``" if spec.units else "",
                    _require("[sweep]", key, spec.doc),
                ]
            )
        return _list_table(PARAM_HEADER, rows, PARAM_WIDTHS, name)
    if section in PARAMS:
        return _list_table(PARAM_HEADER, _param_rows(f"[{section}]", PARAMS[section]),
                           PARAM_WIDTHS, name)  # fmt: skip
    if section.startswith("path-") and section[5:] in PATH_PARAMS:
        kind = section[5:]
        rows = _param_rows(f"[path] kind = {kind!r}", PATH_PARAMS[kind])
        return _list_table(PARAM_HEADER, rows, PARAM_WIDTHS, name)
    tables = {"top": (TOP_KEYS, "top level"), "lp": (LP_KEYS, "[[lp]]"),
              "commit": (COMMIT_KEYS, "[[lp]] commit")}  # fmt: skip
    if section in tables:
        keys, where = tables[section]
        rows = [[f"``{key}``", _require(where, key, doc)] for key, doc in keys.items()]
        return _list_table(["key", "meaning"], rows, "20 80", name)
    raise ExtensionError(f"sweep-config-table: no registry section {section!r}")


def rules_table() -> list[str]:
    from sweep.mechanism.rules import RULES

    rows = []
    for rule in RULES.values():
        values = [
            f"``{name}``{' (default)' if i == 0 else ''}: {_require(rule.key, name, reads.doc)}"
            for i, (name, reads) in enumerate(rule.values.items())
        ]
        rows.append([f"``{rule.key}``", _require("rule", rule.key, rule.doc),
                     "; ".join(values)])  # fmt: skip
    return _list_table(["rule key", "what it chooses", "values"], rows, "18 27 55", "rules-table")


def presets_table() -> list[str]:
    from sweep.config.schema import SECTION_OF
    from sweep.mechanism.presets import PRESETS

    rows = []
    for name, sets in PRESETS.items():
        what = (
            ", ".join(
                f"``[{SECTION_OF[key]}] {key} = {_literal(v).strip('`')}``"
                for key, v in sets.items()
            )  # fmt: skip
            or "nothing: every key keeps its default"
        )
        rows.append([f"``{name}``", what])
    return _list_table(["preset", "sets"], rows, "15 85", "presets-table")


def variables_table() -> list[str]:
    from sweep.mechanism.variables import VARIABLES

    rows = [
        [f"``{v.name}``", v.scope, f"``{v.units}``" if v.units else "", _cell(v.long_name)]
        for v in VARIABLES.values()
    ]
    return _list_table(["variable", "indexed by", "units", "meaning"], rows, "25 15 12 48",
                       "variables-table")  # fmt: skip


def examples_table() -> list[str]:
    from sweep import examples

    rows = [[f"``{name}``", _cell(what)] for name, what in examples.EXAMPLES.items()]
    return _list_table(["config", "what it shows"], rows, "22 78", "examples-table")


class _Generated(SphinxDirective):
    """Parse generated reST lines in place of the directive."""

    def lines(self) -> list[str]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        container = nodes.container()
        self.state.nested_parse(StringList(self.lines(), source=self.get_source_info()[0]),
                                self.content_offset, container)  # fmt: skip
        return container.children


class ConfigTable(_Generated):
    required_arguments = 1

    def lines(self) -> list[str]:
        return config_table(self.arguments[0])


class RulesTable(_Generated):
    def lines(self) -> list[str]:
        return rules_table()


class PresetsTable(_Generated):
    def lines(self) -> list[str]:
        return presets_table()


class VariablesTable(_Generated):
    def lines(self) -> list[str]:
        return variables_table()


class ExamplesTable(_Generated):
    def lines(self) -> list[str]:
        return examples_table()


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("sweep-config-table", ConfigTable)
    app.add_directive("sweep-rules-table", RulesTable)
    app.add_directive("sweep-presets-table", PresetsTable)
    app.add_directive("sweep-variables-table", VariablesTable)
    app.add_directive("sweep-examples-table", ExamplesTable)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
