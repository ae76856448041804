"""The package's imports run one way: mechanism <- engine <- results <- API and CLI; and the
package's layout (``docs/layout.md``) lists every module, in an order the imports follow.

Read from the source with ``ast`` (every import, at module level or inside a function), so a
cycle fails here even where Python would tolerate it at run time.
"""

from __future__ import annotations

import ast
import re
from importlib.metadata import version
from pathlib import Path

import sweep

PACKAGE = Path(sweep.__file__).parent
LAYOUT = PACKAGE.parent / "docs" / "layout.md"

# each module's layer; a module may import only from its own layer or lower ones
LAYERS = {
    "mechanism": 0,
    "errors": 0,
    "version": 0,
    "examples": 0,  # the shipped configs: data and their names, no imports of sweep
    "config": 1,
    "engine": 2,
    "storage": 3,
    "execution": 3,
    "runner": 4,
    "analysis": 4,
    "plot": 4,
    "cli": 5,
    "__init__": 5,
    "__main__": 5,
}
ENGINE = "mechanism <- config <- engine <- (storage, execution) <- (runner, analysis, plot) <- cli"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Modules of ``sweep`` that the file imports, as dotted names relative to the package."""
    here = module_name(path).split(".")
    package = here[:-1] if path.name != "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if not (node.module or "").startswith("sweep"):
                    continue
                base = (node.module or "").split(".")[1:]
            else:
                base = package[: len(package) - (node.level - 1)] + (
                    node.module.split(".") if node.module else []
                )
            for alias in node.names:
                candidate = ".".join([*base, alias.name])
                found.add(candidate if _exists(candidate) else ".".join(base))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("sweep."):
                    found.add(alias.name.split(".", 1)[1])
    return {name for name in found if name and _exists(name)}


def _exists(name: str) -> bool:
    target = PACKAGE.joinpath(*name.split("."))
    return target.with_suffix(".py").is_file() or (target / "__init__.py").is_file()


def graph() -> dict[str, set[str]]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        out[name] = {d for d in imports_of(path) if d != name}
    return out


def layer(name: str) -> int:
    return LAYERS[name.split(".")[0]]


def test_every_module_has_a_layer():
    missing = sorted({n.split(".")[0] for n in graph()} - set(LAYERS))
    assert not missing, f"give these modules a layer in LAYERS: {missing}"


def test_imports_have_no_cycle():
    edges = graph()
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(edges.get(node, ())):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep) :] + [dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_imports_run_one_way():
    wrong = [
        f"{name} (layer {layer(name)}) imports {dep} (layer {layer(dep)})"
        for name, deps in graph().items()
        for dep in deps
        if layer(dep) > layer(name) and name not in ("__init__", "__main__")
    ]
    assert not wrong, f"imports must run {ENGINE}:\n" + "\n".join(sorted(wrong))


def test_the_mechanism_imports_nothing_else_of_sweep():
    outside = {
        f"{name} -> {dep}"
        for name, deps in graph().items()
        if name.startswith("mechanism")
        for dep in deps
        if not dep.startswith("mechanism")
    }
    assert not outside


def test_the_cycle_check_finds_a_cycle(tmp_path, monkeypatch):
    """The check itself can fail: a two-module cycle is reported."""
    edges = {"a": {"b"}, "b": {"a"}}
    monkeypatch.setattr(__import__(__name__), "graph", lambda: edges)
    try:
        test_imports_have_no_cycle()
    except AssertionError as exc:
        assert "a -> b -> a" in str(exc)
    else:
        raise AssertionError("the cycle was not found")


def test_version_comes_from_the_package_metadata():
    assert sweep.__version__ == version("liquidity-sweep")


def listed_layout(text: str) -> list[str]:
    """The modules the layout page's list names, in its order, as names relative to the
    package: ``sweep/storage/`` is the package ``storage``, the ``  netcdf.py`` under it
    ``storage.netcdf``, ``sweep/runner.py`` ``runner``."""
    block = text.split("```", 2)[1]
    names: list[str] = []
    package = None
    for line in block.splitlines():
        top = re.match(r"sweep/(\S+)", line)
        inner = re.match(r"  (\w+)\.py\b", line)
        if top:
            path = top.group(1)
            package = path.rstrip("/") if path.endswith("/") else None
            names.append(package or path.removesuffix(".py"))
        elif package and inner:
            names.append(f"{package}.{inner.group(1)}")
    return names


def test_the_layout_page_lists_every_module():
    listed = listed_layout(LAYOUT.read_text())
    assert len(listed) == len(set(listed)), "a module is listed twice"
    missing = sorted(set(graph()) - set(listed))
    stale = sorted(set(listed) - set(graph()))
    assert not missing, f"list these modules in docs/layout.md: {missing}"
    assert not stale, f"docs/layout.md lists modules that do not exist: {stale}"


def test_imports_run_up_the_layout_list():
    """Each module imports only modules listed above it (a package's ``__init__``, which
    gathers its own modules, and ``sweep/__init__.py`` aside)."""
    listed = listed_layout(LAYOUT.read_text())
    position = {name: i for i, name in enumerate(listed)}
    packages = {name.split(".")[0] for name in listed if "." in name} | {"__init__"}
    downward = [
        f"{name} imports {dep}, listed below it"
        for name, deps in graph().items()
        if name not in packages
        for dep in deps
        if position[dep] > position[name]
    ]
    assert not downward, "\n".join(sorted(downward))


def test_the_layout_check_reads_the_list():
    """The parser sees packages, their modules and top-level modules, so the checks can fail."""
    text = "# Layout\n```text\nsweep/a/   x\n  b.py   y\nsweep/c.py   z\ntests/x.py\n```\n"
    assert listed_layout(text) == ["a", "a.b", "c"]
    assert len(listed_layout(LAYOUT.read_text())) > 40
