"""Formulas (``.. math::``, ``:math:``) rendered as MathML when the pages are built.

Browsers draw MathML themselves, so the pages show their formulas without a script from the
network (Sphinx's default, MathJax, loads one when a page is opened) and without LaTeX on the
machine that builds them (``imgmath``). docutils converts the LaTeX
(:mod:`docutils.utils.math.latex2mathml`); a formula it cannot convert fails the build, naming
the formula. Lines of a display formula that end in ``\\\\`` are set as an ``aligned`` block.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.utils.math import latex2mathml
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError


def mathml(latex: str, *, block: bool) -> str:
    """The MathML of one formula."""
    text = latex.strip()
    if block and "\\\\" in text and not text.startswith("\\begin"):
        text = f"\\begin{{aligned}}\n{text}\n\\end{{aligned}}"
    try:
        return latex2mathml.tex2mathml(text, as_block=block)
    except (SyntaxError, ValueError) as exc:  # latex2mathml.MathError is a ValueError
        raise ExtensionError(f"cannot render the formula {latex!r} as MathML: {exc}") from None


def visit_math(self: Any, node: nodes.Element) -> None:
    self.body.append(mathml(node.astext(), block=False))
    raise nodes.SkipNode


def visit_displaymath(self: Any, node: nodes.Element) -> None:
    parts = [part for part in node.astext().split("\n\n") if part.strip()]
    self.body.append(self.starttag(node, "div", CLASS="math notranslate"))
    self.body.extend(mathml(part, block=True) for part in parts)
    self.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_html_math_renderer("mathml", (visit_math, None), (visit_displaymath, None))
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
