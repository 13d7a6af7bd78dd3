"""One look for every figure chemoshift draws: readable fonts, a colour-blind-safe palette.

The palette is Okabe and Ito's (2008, "Color universal design"), distinguishable under the
common colour-vision deficiencies; sequential values use viridis. Figure functions are
drawn inside :func:`figure_style` (a ``matplotlib.rc_context``), either by a ``with``
block or by the :func:`styled` decorator, so text sizes and the ``"C0"``... colour cycle
follow this module wherever a figure is built.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import matplotlib as mpl
from cycler import cycler

OKABE_ITO = {
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "bluish_green": "#009E73",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "reddish_purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
PALETTE = list(OKABE_ITO.values())  # the "C0", "C1", ... cycle inside figure_style
GREY = "#6E6E6E"  # reference lines, "no estimate" markers
SEQUENTIAL = "viridis"  # probabilities, expression levels
DIVERGING = "RdBu_r"  # centred values (colour-blind safe: blue / red, no green)

# Font sizes (points). SMALL is the floor for anything a reader must read: tick labels of
# dense forest plots; TINY only where rows are packed tighter than SMALL fits (heat maps).
TINY = 6.5
SMALL = 8.0
NORMAL = 9.5
TITLE = 11.0

RC = {
    "font.size": NORMAL,
    "axes.titlesize": TITLE,
    "axes.labelsize": NORMAL,
    "xtick.labelsize": SMALL + 0.5,
    "ytick.labelsize": SMALL + 0.5,
    "legend.fontsize": SMALL,
    "legend.title_fontsize": SMALL,
    "figure.titlesize": TITLE + 1,
    "axes.prop_cycle": cycler(color=PALETTE),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "image.cmap": SEQUENTIAL,
    "lines.linewidth": 1.5,
    "savefig.dpi": 100,
}

def plain(label: object) -> str:
    """A user's label (gene, drug, cell line, treatment, claim) as literal figure text.

    Matplotlib reads text between two ``$`` as mathtext: a cell line ``$x$`` would be drawn
    as maths and one like ``a $\\frac$ b`` stops the figure with a parse error. Every ``$``
    escaped (``\\$``) draws as a dollar sign and never opens maths. Labels the package
    writes itself (axis titles, tick formatters) keep their mathtext.
    """
    return str(label).replace("$", r"\$")


@contextmanager
def figure_style() -> Iterator[None]:
    """Draw (and save) figures inside this block to give them the shared look."""
    with mpl.rc_context(RC):
        yield


def styled[**P, R](draw: Callable[P, R]) -> Callable[P, R]:
    """Decorate a function that returns a figure so it is built inside :func:`figure_style`
    (text sizes and colours are fixed when the artists are created)."""

    @functools.wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with figure_style():
            return draw(*args, **kwargs)

    return wrapper


def colour(index: int) -> str:
    """The ``index``-th palette colour, cycling."""
    return PALETTE[index % len(PALETTE)]
