"""The order book of one LP on one day (the old tools' ``visualise_orders``)."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.offsetbox import AnchoredText

from ..analysis.orderbook import OrderBook, order_book_from_dataset, probability_of_trading
from . import _data, _style

__all__ = ["order_book", "draw_order_book", "has_orders"]

_NEEDED = (
    "mark_price",
    "stake",
    "rf_long",
    "rf_short",
    "limit_orders_buy",
    "limit_orders_sell",
    "fractions_buy",
    "fractions_sell",
)

_PARAMS = ("k", "tick_size", "num_ticks", "mu", "sigma", "tau", "margin_rule")
"""The parameters the book is rebuilt from
(:func:`~sweep.analysis.orderbook.order_book_from_dataset`)."""


def _price_format(tick_size: float) -> str:
    decimals = max(0, -math.floor(math.log10(tick_size) + 1e-9)) if tick_size < 1 else 0
    return f"{{:,.{min(decimals, 8)}f}}"


def book_caption(book: OrderBook) -> str:
    """Obligation, liquidity and margin of a book, aligned for a monospace text box."""
    rows = [
        ("stake", book.stake),
        ("obligation", book.obligation),
        ("bid liquidity", book.buy.liquidity),
        ("offer liquidity", book.sell.liquidity),
        ("supplied", book.supplied_liquidity),
        ("margin bid", book.margin_buy),
        ("margin offer", book.margin_sell),
        (f"margin ({book.margin_rule})", book.margin),
    ]
    return "\n".join(f"{name:<15} {value:>14,.0f}" for name, value in rows)


def draw_order_book(
    ax: Axes, book: OrderBook, *, mu: float, sigma: float, tau: float, tick_size: float
) -> Axes:
    """Bars of limit and pegged volume by price level, fractions and P(trade) on a twin axis.

    Returns the twin axis. Bids are left of mid (farthest first), offers right of it.
    """
    n = book.buy.levels.size
    bid_x = np.arange(n)
    offer_x = np.arange(n + 1, 2 * n + 1)
    buy_limit = book.buy.limit[::-1]
    sell_limit = book.sell.limit
    ax.bar(bid_x, buy_limit, color="tab:green", label="bids (limit)")
    ax.bar(offer_x, sell_limit, color="tab:red", label="offers (limit)")
    ax.bar(bid_x, book.buy.pegged[::-1], bottom=buy_limit, color="lightgreen", label="pegged bids")
    ax.bar(offer_x, book.sell.pegged, bottom=sell_limit, color="lightsalmon", label="pegged offers")
    ax.axvline(n, color="0.6", linewidth=0.8, linestyle=":")

    fmt = _price_format(tick_size)
    labels = [fmt.format(p) for p in book.buy.levels[::-1]]
    labels += ["mid"] + [fmt.format(p) for p in book.sell.levels]
    positions = np.arange(2 * n + 1)
    step = max(1, math.ceil((2 * n + 1) / 31))
    shown = (positions - n) % step == 0
    ax.set_xticks(
        positions[shown],
        [lab for lab, s in zip(labels, shown, strict=True) if s],
        rotation=90,
        fontsize="small",
    )
    ax.set_xlim(-0.7, 2 * n + 0.7)
    ax.set_xlabel("price")
    ax.set_ylabel("volume")
    ax.yaxis.set_major_formatter(_style.Thousands())

    ax2 = ax.twinx()
    fractions = np.concatenate([book.buy.fractions[::-1], book.sell.fractions])
    at = np.concatenate([bid_x, offer_x])
    placed = fractions > 0
    ax2.scatter(
        at[placed],
        fractions[placed],
        marker="_",
        s=220,
        color="tab:blue",
        linewidths=2,
        label="liquidity fraction",
        zorder=3,
    )
    levels = np.concatenate([book.buy.levels[::-1], [book.mid], book.sell.levels])
    prob = probability_of_trading(levels, book.mid, mu, sigma, tau)
    ax2.plot(positions, prob, "m--", label="prob. of trading")
    ax2.set_ylim(0, 1.1)
    ax2.set_ylabel("probability / fraction", color="tab:blue")
    ax2.tick_params(axis="y", colors="tab:blue")

    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax2.legend(
        handles,
        [h.get_label() for h in handles],
        loc="upper left",
        fontsize="small",
        ncol=2,
        framealpha=0.9,
    )
    top = max(float(np.max(book.buy.volume, initial=0)), float(np.max(book.sell.volume, initial=0)))
    ax.set_ylim(0, top * 1.35 if top > 0 else 1.0)
    empty = None
    if not book.active:
        empty = "inactive: no stake, no orders"
    elif book.buy.volume.sum() + book.sell.volume.sum() == 0:
        empty = "no orders: the LP's shape has no limit orders and no liquidity fractions"
    if empty:
        ax.text(0.5, 0.5, empty, transform=ax.transAxes, ha="center", va="center", color="0.4")
    return ax2


def has_orders(ds: xr.Dataset) -> np.ndarray:
    """Per LP: whether its shape places any orders (limit volume or liquidity fractions)."""
    total = sum(
        np.asarray(ds[name].transpose("lp", ...).values, dtype=float).sum(axis=-1)
        for name in ("limit_orders_buy", "limit_orders_sell", "fractions_buy", "fractions_sell")
    )
    return np.asarray(total > 0)


def order_book(
    ds: xr.Dataset,
    lp: str | int | None = None,
    day: int | None = None,
    *,
    ax: Axes | None = None,
) -> Figure:
    """One LP's book on one day, rebuilt from the result (the mechanism's step 9).

    ``lp`` defaults to the LP with the largest stake on ``day``, ``day`` to the last day. The
    obligation, bid/offer liquidity, supplied liquidity and margins are printed beside the
    bars (inside them when drawing into ``ax``).

    Parameters
    ----------
    ds : xarray.Dataset
        A result (:func:`sweep.run`, :func:`sweep.load`) narrowed to one scenario and one path,
        along the dimensions this figure's variables have.
    lp : str or int, optional
        The LP, by name or index; default: the LP with the largest stake on ``day``.
    day : int, optional
        The day (an index along ``day``); default: the last day.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    _data.require_days(ds, "order_book")
    _data.require(ds, _NEEDED, "order_book")
    # the book depends on these variables and parameters alone: other sweep dims may stay
    ds = _data.one_scenario(ds, "order_book", variables=(*_NEEDED, *_PARAMS))
    if day is None:
        day = int(ds["day"].values[-1])
    if lp is None:
        stakes = ds["stake"].sel(day=day) if day in ds["day"].values else ds["stake"].isel(day=-1)
        # the largest LP that shows any orders, else the largest
        weight = np.asarray(stakes.values, dtype=float) * (1 + has_orders(ds))
        lp = str(ds["lp"].values[int(np.argmax(weight))])
    book = order_book_from_dataset(ds, lp, day)
    name = lp if isinstance(lp, str) else str(ds["lp"].values[lp])
    params = {k: float(_data.scalar(ds, k)) for k in ("mu", "sigma", "tau", "tick_size")}
    caption = book_caption(book)
    if ax is None:
        fig = _style.new_figure((11.0, 5.0))
        ax, side = fig.subplots(1, 2, width_ratios=[4.2, 1.3])
        side.axis("off")
        side.text(
            0.0,
            1.0,
            caption,
            family="monospace",
            fontsize="small",
            va="top",
            transform=side.transAxes,
        )
    else:
        fig, ax = _style.figure_axes(ax)
        box = AnchoredText(
            caption, loc="upper right", prop={"family": "monospace", "fontsize": "x-small"}
        )
        box.patch.set_alpha(0.85)
        ax.add_artist(box)
    draw_order_book(ax, book, **params)
    when = f"day {day}"
    if _data.has(ds, "date") and ds["date"].dims == ("day",):
        when += f" ({np.datetime_as_string(ds['date'].sel(day=day).values, unit='D')})"
    mid = _price_format(params["tick_size"]).format(book.mid)
    ax.set_title(f"Order book of LP {name}, {when}, mid {mid}")
    return fig
