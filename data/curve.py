"""The four-parameter log-logistic curve, written once for the model, the simulator,
the classical fit and the figures.

On log10 concentration ``x``, with relative IC50 ``log10_ic50`` (the inflection) and
Hill slope ``hill``, the fraction of the way from the bottom to the top is::

    fraction(x) = 1 / (1 + 10 ** (hill * (x - log10_ic50)))
                = sigmoid(-ln(10) * hill * (x - log10_ic50))

and the mean response is ``top * (bottom + (1 - bottom) * fraction)`` with ``bottom`` a
fraction of the top. Written through a logistic sigmoid so that it stays finite, and its
gradient too, far from the IC50; a vehicle well (concentration 0, ``x = -inf``) has
fraction 1. Pass ``sigmoid=pytensor.tensor.sigmoid`` to build it into a model graph.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import expit

LN10 = float(np.log(10.0))


def four_parameter_fraction(log10_concentration, log10_ic50, hill,
                            sigmoid: Callable = expit):
    """Fraction of the way from bottom to top (1 at concentration 0, 0 at infinity).

    Arrays broadcast; ``log10_concentration`` may be -inf (a vehicle well).
    """
    with np.errstate(invalid="ignore"):
        return sigmoid(-LN10 * hill * (log10_concentration - log10_ic50))


def four_parameter_response(log10_concentration, log10_ic50, hill, bottom, top,
                            sigmoid: Callable = expit):
    """Mean response: ``top * (bottom + (1 - bottom) * fraction)``; ``bottom`` is a fraction
    of the top (0-1), ``top`` in response units."""
    fraction = four_parameter_fraction(log10_concentration, log10_ic50, hill, sigmoid)
    return top * (bottom + (1.0 - bottom) * fraction)


def log10_absolute_ic50(log10_ic50, hill, bottom):
    """log10 concentration where the curve crosses half its top: +inf when the bottom is at
    or above half the top (the curve never gets there). numpy arrays broadcast."""
    log10_ic50, hill, bottom = np.broadcast_arrays(*map(np.asarray, (log10_ic50, hill, bottom)))
    out = np.full(log10_ic50.shape, np.inf)
    reaches = bottom < 0.5
    out[reaches] = log10_ic50[reaches] + np.log10(0.5 / (0.5 - bottom[reaches])) / hill[reaches]
    return out if out.ndim else float(out)
