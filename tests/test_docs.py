"""The documentation builds with warnings as errors and says what the code does.

One Sphinx build per session (``sphinx-build -W --keep-going -b html docs``, about two minutes:
the gallery and the notebooks run), then checks of the built pages: every key of the parameter
registry in the config reference with its default, range and units; every rule value in its
section of the mechanism page (written by hand, so a new value without its description fails);
every preset and SLA key; every public name in the API reference; the gallery's figures made
by running its examples. A broken cross-reference, a public name without a docstring or an
undocumented parameter is a build warning (``nitpicky``, numpydoc validation) and so a failure.
"""

from __future__ import annotations

import html
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import sweep
import sweep.plot
from sweep.config.design import DESIGN_KEYS
from sweep.config.schema import (
    COMMIT_KEYS,
    LP_KEYS,
    PARAMS,
    PATH_PARAMS,
    SWEEP_KEYS,
    SWEEP_OTHER_KEYS,
    TOP_KEYS,
)
from sweep.mechanism.presets import PRESETS
from sweep.mechanism.rules import RULES
from sweep.mechanism.variables import VARIABLES

pytest.importorskip("sphinx")  # the test-slow extra

pytestmark = pytest.mark.slow  # a Sphinx build that runs the gallery and the notebooks

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@pytest.fixture(scope="session")
def built() -> Iterator[Path]:
    """Build the HTML docs once, as CI and the README do; fail with Sphinx's own report.

    Into a folder of its own (not pytest's tmp_path, which another pytest run on the machine
    may rotate away mid-session)."""
    out = Path(tempfile.mkdtemp(prefix="sweep-docs-test-"))
    try:
        yield _build(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _build(out: Path) -> Path:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
           "-d", str(out / "doctrees"), str(DOCS), str(out / "html")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    assert proc.returncode == 0, (
        f"sphinx-build failed ({proc.returncode}):\n{proc.stderr[-6000:]}\n{proc.stdout[-3000:]}"
    )
    return out / "html"


def _page(built: Path, name: str) -> str:
    return (built / name).read_text(encoding="utf-8")


def _text(fragment: str) -> str:
    """The text of an HTML fragment, tags dropped and entities decoded, spaces collapsed."""
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())
    text = text.replace(" ,", ",").replace("\u2019", "'")  # Sphinx's smart quotes
    return text.replace("\u201c", '"').replace("\u201d", '"')


def _literals(fragment: str) -> set[str]:
    """The inline code literals (``x``) of an HTML fragment."""
    found = re.findall(r'<code class="docutils literal notranslate">(.*?)</code>', fragment, re.S)
    return {_text(f).replace(" ", "") for f in found} | {_text(f) for f in found}


def _table(page: str, section: str) -> list[list[str]]:
    """The rows (cells as text) of the config table of ``section``."""
    match = re.search(rf'<table class="[^"]*\bconfig-table-{section}\b[^"]*">(.*?)</table>', page,
                      re.S)  # fmt: skip
    assert match, f"no config table for {section!r}"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", match.group(1), re.S)
    return [[_text(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)] for r in rows]


def _section(page: str, anchor: str) -> str:
    """The HTML of the section that label ``anchor`` marks (up to that section's end)."""
    start = page.find(f'id="{anchor}"')
    assert start >= 0, f"no section {anchor!r}"
    depth, pos = 0, page.index("<section", start)
    for tag in re.finditer(r"<(/?)section\b", page[pos:]):
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            return page[start : pos + tag.end()]
    raise AssertionError(f"section {anchor!r} never ends")


def _default_text(value: object) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e-3 or abs(value) >= 1e6 else repr(value)
    return str(value)


def test_build_succeeds_without_warnings(built: Path) -> None:
    for page in ("index.html", "mechanism.html", "config.html", "api.html", "changelog.html",
                 "benchmarks.html", "auto_examples/index.html", "notebooks.html"):  # fmt: skip
        assert (built / page).stat().st_size > 0, page


def _registry_sections() -> dict[str, dict]:
    sections = {section: specs for section, specs in PARAMS.items()}
    sections["sweep"] = SWEEP_KEYS
    sections.update({f"path-{kind}": specs for kind, specs in PATH_PARAMS.items()})
    return sections


@pytest.mark.parametrize("section", list(_registry_sections()))
def test_config_reference_has_every_registry_key(built: Path, section: str) -> None:
    """Each key of the parameter registry has a row with its type, default, range and units."""
    specs = _registry_sections()[section]
    rows = {row[0]: row for row in _table(_page(built, "config.html"), section)[1:]}
    for key, spec in specs.items():
        assert key in rows, f"[{section}] {key} is missing from the config reference"
        _, kind, default, allowed, units, meaning = rows[key]
        kind_text = {float: "number", int: "integer", str: "string"}[spec.kind]
        assert kind == (kind_text if spec.sweepable else f"{kind_text}, one value"), key
        assert default == _default_text(spec.default), (key, default)
        assert allowed == (spec.bounds or "any"), (key, allowed)
        assert units == spec.units, (key, units)
        assert meaning, key
    if section == "sweep":  # the design's keys and variables are [sweep] keys too, as fully
        assert set(DESIGN_KEYS) | {"variables"} <= set(SWEEP_OTHER_KEYS)
        for key, spec in SWEEP_OTHER_KEYS.items():
            _, kind, default, allowed, units, meaning = rows[key]
            assert (kind, allowed, units) == (spec.kind, spec.allowed, spec.units), key
            assert default == _default_text(spec.default).lower(), (key, default)
            assert meaning, key


def _reference_extension():
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        return importlib.import_module("sweep_reference")
    finally:
        sys.path.remove(str(DOCS / "_ext"))


def _rows(lines: list[str]) -> list[list[str]]:
    """The cells of a generated list-table, row by row."""
    rows: list[list[str]] = []
    for line in lines:
        if line.startswith("   * - "):
            rows.append([line[7:]])
        elif line.startswith("     - "):
            rows[-1].append(line[7:])
        elif line == "     -":
            rows[-1].append("")
    return rows


def test_every_sweep_key_has_type_default_and_range_in_its_row() -> None:
    """``design``, ``samples``, ``second_order``, ``levels`` and ``variables`` are rows like
    every other key: no empty type, default or allowed cell (built without Sphinx)."""
    ref = _reference_extension()
    for section in [*_registry_sections(), "sweep"]:
        header, *rows = _rows(ref.config_table(section))
        assert header == ref.PARAM_HEADER
        for key, kind, default, allowed, _units, meaning in rows:
            assert kind.strip() and default.strip() and allowed.strip() and meaning.strip(), key
    keys = {row[0].strip("`") for row in _rows(ref.config_table("sweep"))[1:]}
    assert {"variables", "design", "samples", "second_order", "levels"} <= keys
    text = " ".join((DOCS / "config.rst").read_text().split())
    assert "Keys marked" not in text and "whose type says *one value*" in text


def test_reference_tables_fit_the_content_column() -> None:
    """At a 1280 px window the meaning column stays in view: the tables have fixed widths
    that the style sheet applies (not widths that follow the longest literal), and long
    literals may wrap."""
    ref = _reference_extension()
    lines = ref.config_table("sweep")
    widths = next(line for line in lines if ":widths:" in line).split(":widths:")[1].split()
    assert len(widths) == len(ref.PARAM_HEADER) and sum(map(int, widths)) == 100
    assert int(widths[-1]) >= 35  # the meaning column gets the most room
    css = (DOCS / "_static" / "sweep.css").read_text()
    rule = re.search(r"table\.sweep-table\s*\{([^}]*)\}", css)
    assert rule and "table-layout: fixed" in rule.group(1) and "width: 100%" in rule.group(1)
    assert "overflow-wrap: anywhere" in css
    conf = (DOCS / "conf.py").read_text()
    assert 'html_css_files = ["sweep.css"]' in conf


def test_mechanism_formulas_are_math_not_code() -> None:
    """Every display formula of the mechanism page is a math block (no code blocks left),
    and each converts to MathML without an error."""
    text = (DOCS / "mechanism.rst").read_text()
    assert "code-block" not in text and "\n::\n" not in text
    blocks = re.findall(r"( *)\.\. math::\n\n((?:\1   .*\n)+)", text)
    assert len(blocks) >= 12
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        from sweep_math import mathml
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    for _, body in blocks:
        out = mathml("\n".join(line.strip() for line in body.splitlines()), block=True)
        assert out.startswith("<math") and "merror" not in out, body


def test_mechanism_page_shows_its_formulas_as_mathml(built: Path) -> None:
    page = _page(built, "mechanism.html")
    assert page.count('<math xmlns="http://www.w3.org/1998/Math/MathML" display="block"') >= 12
    assert "mathjax" not in page.lower()  # nothing loaded from the network to draw them
    assert 'href="_static/sweep.css' in _page(built, "config.html")


@pytest.mark.parametrize(
    ("section", "keys"), [("top", TOP_KEYS), ("lp", LP_KEYS), ("commit", COMMIT_KEYS)]
)
def test_config_reference_has_every_table_key(built: Path, section: str, keys: dict) -> None:
    rows = {row[0]: row[1] for row in _table(_page(built, "config.html"), section)[1:]}
    assert set(rows) == set(keys)
    assert all(rows.values())


def test_config_reference_lists_rules_presets_and_variables(built: Path) -> None:
    page = _page(built, "config.html")
    found = _literals(page)
    assert {v for rule in RULES.values() for v in rule.names} <= found
    assert set(RULES) | set(PRESETS) | set(VARIABLES) <= found


@pytest.mark.parametrize("key", list(RULES))
def test_mechanism_page_describes_every_rule_value(built: Path, key: str) -> None:
    """Every value of every rule key appears in that key's own, hand-written section (the
    generated table elsewhere on the page does not count)."""
    section = _section(_page(built, "mechanism.html"), f"rule-{key.replace('_', '-')}")
    found = _literals(section)
    missing = [value for value in RULES[key].names if value not in found]
    assert not missing, f"the section on {key} does not describe {missing}"


def test_mechanism_page_describes_every_preset_and_sla_key(built: Path) -> None:
    page = _page(built, "mechanism.html")
    presets = _literals(_section(page, "mechanism-presets"))
    assert set(PRESETS) <= presets
    presets_text = _text(_section(page, "mechanism-presets"))
    for name, sets in PRESETS.items():
        for key, value in sets.items():
            assert f"{key} = {_default_text(value)}" in presets_text, (name, key)
    sla = _literals(_section(page, "mechanism-sla"))
    assert set(PARAMS["sla"]) <= sla
    text = _text(page)
    for source in ("0019", "0034", "0038", "0041", "0042", "0044", "liquidity paper",
                   "old tools", "Vega's core"):  # fmt: skip
        assert source in text, source
    departures = _text(_section(page, "mechanism-departures"))
    for what in ("below", "hysteresis", "Virtual stake"):
        assert what in departures, what


def test_api_reference_documents_every_public_name(built: Path) -> None:
    names = [f"sweep.{n}" for n in sweep.__all__ if n != "__version__"]
    names += [f"sweep.plot.{n}" for n in sweep.plot.__all__]
    api = _page(built, "api.html")
    for name in names:
        page = built / "api" / "generated" / f"{name}.html"
        assert page.exists(), f"{name} has no page in the API reference"
        assert f"api/generated/{name}.html" in api, f"api.html does not link {name}"
        text = _text(page.read_text(encoding="utf-8"))
        assert "Parameters" in text, name
        module, _, attr = name.rpartition(".")
        if not isinstance(getattr(importlib.import_module(module), attr), type):  # a function
            assert "Returns" in text, name


def test_gallery_figures_come_from_running_the_examples(built: Path) -> None:
    examples = sorted((DOCS / "examples").glob("plot_*.py"))
    assert len(examples) >= 5
    for example in examples:
        page = _page(built, f"auto_examples/{example.stem}.html")
        images = re.findall(rf'src="../_images/sphx_glr_{example.stem}_\d+\.png"', page)
        assert images, f"{example.name} drew no figure"
        for image in images:
            png = built / "_images" / image.split("/")[-1].rstrip('"')
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    committed = subprocess.run(["git", "ls-files", "docs"], cwd=ROOT, capture_output=True,
                               text=True).stdout.split()  # fmt: skip
    assert not [f for f in committed if f.endswith((".png", ".jpg", ".svg"))]


def test_notebooks_are_rendered_with_their_figures(built: Path) -> None:
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        page = _page(built, f"_notebooks/{notebook.stem}.html")
        assert "data:image/png" in page or re.search(r'<img[^>]+\.png"', page), notebook.name


def test_benchmarks_and_changelog_pages(built: Path) -> None:
    bench = _text(_page(built, "benchmarks.html"))
    for script in re.findall(r"`(bench_\w+\.py)", (ROOT / "README.md").read_text()):
        assert script in bench, script
    changelog = _page(built, "changelog.html")
    hashes = re.findall(r"<span class=\"pre\">([0-9a-f]{7})</span>", changelog)
    assert len(hashes) >= 50, "the changelog lists few commits"
    for commit in hashes:  # every commit it names is one of the repository's
        found = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT,
                               capture_output=True)  # fmt: skip
        assert found.returncode == 0, f"CHANGELOG.md names {commit}, not a commit here"


def test_readme_links_stay_inside_the_repository() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://", "#")):
            continue
        path = (ROOT / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT), f"README links outside the repository: {target}"
        assert path.exists(), f"README links to a missing file: {target}"
    assert "sphinx-build -W --keep-going -b html docs" in text


def test_registry_units_are_the_results_units() -> None:
    """The config reference shows the registry's units; the result's parameters (coordinates,
    or attributes read through ``ds.sweep``) must carry the same (in their UDUNITS spelling)."""
    from sweep.config.model import dim_name
    from sweep.storage.layout import cf_units, parameter_meta

    for section, specs in PARAMS.items():
        for key, spec in specs.items():
            meta = parameter_meta(dim_name(section, key))
            assert meta.get("units", "") == cf_units(spec.units), key
