"""Sphinx configuration of sweep's documentation.

Built with ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (``pip install -e
".[docs]"`` first). Nothing is fetched at build time: no intersphinx, a theme shipped in its
package, the gallery and the notebooks run here on the shipped configs. Numba compiles the
engine on first use, so the first build after an install takes longer.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))

import sweep  # noqa: E402

project = "sweep"
author = "the sweep developers"
copyright = "the sweep developers (MIT licence)"
version = release = sweep.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_nb",
    "sphinx_gallery.gen_gallery",
    "sweep_reference",
    "sweep_math",
]
html_math_renderer = "mathml"  # formulas as MathML, drawn by the browser (docs/_ext/sweep_math.py)

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
# sphinx-gallery writes a notebook of each example too: not a page of its own
exclude_patterns = [
    "_build",
    "**.ipynb_checkpoints",
    "examples/README.txt",
    "auto_examples/*.ipynb",
]
nitpicky = True  # every cross-reference must resolve (-W makes a broken one an error)
# outside names the API's signatures and docstrings mention; with intersphinx off (no network)
# they cannot link anywhere, so they are named, not linked
nitpick_ignore_regex = [
    ("py:.*", r"(xarray|xr|pandas|pd|numpy|np|matplotlib|os|pathlib|distributed|dask)\..*"),
    ("py:class", r"(Any|Mapping|Sequence|Iterable|Callable|PathLike|Figure|Axes|optional)"),
    ("py:class", r"(str|int|float|bool|dict|list|tuple|None|object|Exception|ValueError)"),
    ("py:class", r"(array-like|array_like|default .*|sequence of .*|path-like|dict-like)"),
]

# --- API reference: autodoc + autosummary + numpydoc -------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"  # numpydoc sections carry the types; signatures stay short
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# a public name without a docstring (GL08), a parameter left undocumented (PR01) or documented
# but absent (PR02), or a function without a Returns section (RT01) is a warning, which -W
# makes an error
numpydoc_validation_checks = {"GL08", "PR01", "PR02", "RT01"}
numpydoc_validation_exclude = {r"\.__init__$", r"\.__repr__$", r"\.with_traceback$",
                               r"\.add_note$", r"\.args$"}  # fmt: skip

# --- theme: shipped in its package, nothing loaded from the network at build time --------------
html_theme = "furo"
html_title = f"sweep {release}"
html_static_path = ["_static"]
html_css_files = ["sweep.css"]  # reference tables that fit the column; formula layout
html_show_sourcelink = False
pygments_style = "sphinx"

# --- gallery: the figures of `sweep plot`, rendered here from the shipped configs --------------
OUTPUTS = Path(tempfile.mkdtemp(prefix="sweep-docs-"))
os.environ["SWEEP_OUTPUTS"] = str(OUTPUTS)  # where the notebooks and examples write results
os.environ.setdefault("MPLBACKEND", "Agg")
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("sweep_gallery_scraper",),  # sweep.plot makes figures without pyplot
    "matplotlib_animations": False,
    "show_memory": False,
    "plot_gallery": "True",
    "abort_on_example_error": True,
    "run_stale_examples": True,  # every build runs the examples: the figures come from the code
    "reference_url": {},
}

# --- notebooks: copied from notebooks/ and run at build time (about a minute) ------------------
NOTEBOOKS = DOCS / "_notebooks"
shutil.rmtree(NOTEBOOKS, ignore_errors=True)
NOTEBOOKS.mkdir()
for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
    shutil.copy2(notebook, NOTEBOOKS / notebook.name)
nb_execution_mode = "force"
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type"]
