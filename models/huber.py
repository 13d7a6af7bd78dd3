"""The Huber distribution: a Normal core with Laplace (exponential) tails.

Its density is ``exp(-rho(r)) / (sigma * Z)`` with ``r = (y - mu) / sigma`` and Huber's
loss ``rho(r) = r**2 / 2`` for ``|r| <= k``, ``k |r| - k**2 / 2`` beyond (Huber 1964, "Robust
estimation of a location parameter"); ``Z = sqrt(2 pi) (2 Phi(k) - 1) + 2 exp(-k**2 / 2) / k``.

Why a dose-response likelihood is Huber, not Student-t: the log density is concave in
``mu``, so a curve's wells never offer two separate explanations. A Student-t's is not: on a
real screen a well reading 0.27 two doses past a cliff (neighbours 0.05) let one chain
explain it with a shallow slope and the other call it an outlier with a steep one (R-hat
1.47). Huber's tails still bound an outlier's pull (constant beyond ``k`` sigmas, where a
Normal's grows without bound), at 95% of the Normal's efficiency for ``k = 1.345``.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pymc.distributions.continuous import Continuous
from pymc.distributions.distribution import SymbolicRandomVariable
from pymc.distributions.shape_utils import implicit_size_from_params, rv_size_is_none
from pymc.pytensorf import normalize_rng_param
from pytensor.tensor.random.basic import uniform
from pytensor.tensor.random.utils import normalize_size_param
from scipy.special import ndtr

HUBER_K = 1.345  # the classical tuning constant: 95% efficiency under Normal noise


def log_normaliser(k: float = HUBER_K) -> float:
    """log Z of the standard Huber density (sigma 1)."""
    return float(np.log(np.sqrt(2 * np.pi) * (2 * ndtr(k) - 1) + 2 * np.exp(-k * k / 2) / k))


def huber_logp(value, mu, sigma, k: float = HUBER_K):
    """Log density of ``value`` under Huber(mu, sigma, k); tensors broadcast."""
    r = pt.abs((value - mu) / sigma)
    loss = pt.switch(r <= k, 0.5 * r**2, k * r - 0.5 * k * k)
    return -loss - pt.log(sigma) - log_normaliser(k)


class HuberRV(SymbolicRandomVariable):
    """Huber(mu, sigma) draws as a PyTensor graph of two uniforms: the first picks core or
    tail (and, in a tail, its side), the second places the draw (the core: a Normal
    truncated to +-k by its inverse CDF; a tail: k plus an exponential of rate k).

    A module-level class, so its log density is registered on import: a model holding it
    pickles by reference (the compile child of ``inference.nutpie_compile`` loads it).
    """

    name = "Huber"
    extended_signature = "[rng],[size],(),()->[rng],()"
    _print_name = ("Huber", "\\operatorname{Huber}")

    @classmethod
    def rv_op(cls, mu, sigma, *, size=None, rng=None, k: float = HUBER_K):
        mu, sigma = pt.as_tensor(mu), pt.as_tensor(sigma)
        rng, size = normalize_rng_param(rng), normalize_size_param(size)
        if rv_size_is_none(size):
            size = implicit_size_from_params(mu, sigma, ndims_params=cls.ndims_params)
        next_rng, u = uniform(size=size, rng=rng, return_next_rng=True)
        next_rng, v = uniform(size=size, rng=next_rng, return_next_rng=True)
        core_mass = np.sqrt(2 * np.pi) * (2 * ndtr(k) - 1)
        p_core = core_mass / (core_mass + 2 * np.exp(-k * k / 2) / k)
        low = float(ndtr(-k))
        core = np.sqrt(2.0) * pt.erfinv(2.0 * (low + v * (1.0 - 2.0 * low)) - 1.0)
        side = pt.switch(u - p_core < 0.5 * (1.0 - p_core), -1.0, 1.0)
        tail = side * (k - pt.log1p(-v) / k)
        draws = mu + sigma * pt.switch(u < p_core, core, tail)
        return cls(inputs=[rng, size, mu, sigma], outputs=[next_rng, draws])(
            rng, size, mu, sigma)


class HuberDist(Continuous):
    """Huber(mu, sigma) with the classical ``k`` (``HUBER_K``): location ``mu``, scale
    ``sigma > 0`` (the Normal core's standard deviation)."""

    rv_type = HuberRV
    rv_op = HuberRV.rv_op

    @classmethod
    def dist(cls, mu, sigma, **kwargs):
        return super().dist([mu, sigma], **kwargs)

    def support_point(rv, size, mu, sigma):
        point = pt.broadcast_arrays(mu, sigma)[0]
        return point if rv_size_is_none(size) else pt.full(size, point)

    def logp(value, mu, sigma):
        return huber_logp(value, mu, sigma)


def Huber(name: str, mu, sigma, **kwargs):
    """A Huber-distributed variable in the current model (``observed=``, ``dims=`` as usual)."""
    return HuberDist(name, mu, sigma, **kwargs)
