"""The book's figure style: the palette, the matplotlib settings, the context plots draw in."""

from __future__ import annotations

from contextlib import contextmanager

import matplotlib as mpl

__all__ = ["PALETTE", "STYLE", "book_style", "use_style"]

#: The book's palette (colour-blind safe, from Okabe & Ito), used in this order by every plot.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

#: The matplotlib settings of every figure of the book.
STYLE = {
    "figure.figsize": (7.0, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "legend.frameon": False,
    "svg.hashsalt": "cnnlib",
}


def use_style() -> None:
    """Apply the book's matplotlib style globally (idempotent)."""
    mpl.rcParams.update(STYLE)


@contextmanager
def book_style():
    """Draw the figures made inside in the book's style: ``with book_style(): fig, ax = ...``.

    Unlike a bare ``matplotlib.rc_context(STYLE)``, it keeps interactive mode as a notebook's
    inline backend set it on the first figure, so later figures are still shown.
    """
    with mpl.rc_context(STYLE):
        yield
        interactive = mpl.is_interactive()
    mpl.interactive(interactive)
