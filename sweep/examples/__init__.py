"""The example configs shipped with ``sweep``: runnable from any folder by name.

``sweep run vega_presets`` runs the shipped ``vega_presets.toml`` (a file of that name in the
current folder wins: it is what the user means); ``sweep examples`` lists them, one line each.
From Python, :func:`path` gives a shipped config's file, for ``sweep.run`` or to copy and edit::

    import sweep
    from sweep import examples

    ds = sweep.run(examples.path("fee_constant_bid"))

``default`` is the sweep ``sweep run`` runs without a config (``sweep/defaults/default.toml``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: What each shipped config shows, one line each (``sweep examples`` prints them in this order).
EXAMPLES: dict[str, str] = {
    "default": "a synthetic market on 8 paths: v x valuation_period x share rule, four LPs",
    "simple_test": "the old tools' simple test: four LPs enter while the volume jumps",
    "fee_constant_bid": "one LP, constant volume and bid: fees per day are volume x bid",
    "fee_stepped_bid": "one LP amends its bid every 15 days: fees follow the bid",
    "margin_strategies": "aggressive, uniform, passive LPs on a sine price: margin rises in turn",
    "fee_split_paper": "the liquidity paper's time-weighted fee split of four market makers",
    "vega_presets": "the old tools, Vega 2021 and Vega today (its SLA) side by side, four LPs",
    "entry_exit": "20 hurdle LPs enter in a volume boom and leave in the bust: v x hurdle",
}


def _folder(name: str) -> Path:
    package = "defaults" if name == "default" else "examples"
    return Path(str(resources.files("sweep") / package))


def names() -> list[str]:
    """The shipped configs' names, as ``sweep run NAME`` takes them.

    Returns
    -------
    list of str
        ``default`` first, then the others in the order ``sweep examples`` lists them.
    """
    return list(EXAMPLES)


def path(name: str) -> Path:
    """The file of the shipped config ``name`` (one of :func:`names`).

    Parameters
    ----------
    name : str
        A shipped config's name, e.g. ``"vega_presets"``.

    Returns
    -------
    pathlib.Path
        The TOML file inside the installed package.

    Raises
    ------
    KeyError
        When no shipped config has that name.
    """
    if name not in EXAMPLES:
        raise KeyError(f"no shipped config {name!r}; the shipped ones: {', '.join(EXAMPLES)}")
    return _folder(name) / f"{name}.toml"


def listing() -> str:
    """One line per shipped config: its name and what it shows, as ``sweep examples`` prints.

    Returns
    -------
    str
        The lines, joined by newlines.
    """
    width = max(map(len, EXAMPLES))
    return "\n".join(f"{name:<{width}}  {what}" for name, what in EXAMPLES.items())
