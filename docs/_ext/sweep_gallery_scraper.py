"""A sphinx-gallery image scraper for figures made without pyplot.

``sweep.plot`` builds each :class:`matplotlib.figure.Figure` without pyplot (importing it never
picks a GUI backend), so sphinx-gallery's own matplotlib scraper, which asks pyplot for its open
figures, sees none. This one takes the figures an example's code block left in the example's
variables (``fig = plot.heatmap(...)``), each once, in the order they appear.
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure


class FigureScraper:
    """Save the new figures of each code block; sphinx-gallery calls it after every block."""

    def __init__(self) -> None:
        self._example = None
        self._seen: list[Figure] = []  # kept alive so an id is never reused within an example

    def __call__(self, block: Any, block_vars: dict, gallery_conf: dict) -> str:
        from sphinx_gallery.scrapers import figure_rst

        if block_vars["src_file"] != self._example:
            self._example, self._seen = block_vars["src_file"], []
        new = [
            value
            for value in block_vars["example_globals"].values()
            if isinstance(value, Figure) and all(value is not old for old in self._seen)
        ]
        paths = []
        for fig, path in zip(new, block_vars["image_path_iterator"], strict=False):
            fig.savefig(path, dpi=96)
            paths.append(path)
            self._seen.append(fig)
        return figure_rst(paths, gallery_conf["src_dir"])

    def __repr__(self) -> str:  # sphinx-gallery keys its caches on the scrapers' reprs
        return "sweep_gallery_scraper.FigureScraper()"


def _get_sg_image_scraper() -> FigureScraper:
    """The hook sphinx-gallery calls for ``image_scrapers = ("sweep_gallery_scraper",)``."""
    return FigureScraper()
