"""Priors written as potentials: a model term whose prior density PyMC cannot attach to a
variable (a change of variables, as :mod:`chemoshift.models.log_ratio`'s singleton groups)
enters as ``pm.Potential("<name>_prior", ...)``. Its value is in every posterior draw, so
replicated data drawn from the posterior keep their meaning: :mod:`chemoshift.inference.fit`
asks :func:`only_prior_potentials` before it quiets PyMC's warning about potentials."""

from __future__ import annotations

import pymc as pm

PRIOR_SUFFIX = "_prior"


def prior_potential(name: str, logp) -> pm.Potential:
    """The potential ``{name}_prior`` holding a prior's log density (a scalar tensor)."""
    return pm.Potential(f"{name}{PRIOR_SUFFIX}", logp)


def only_prior_potentials(model: pm.Model) -> bool:
    """Whether every potential of ``model`` is a prior written with :func:`prior_potential`."""
    return all(p.name.endswith(PRIOR_SUFFIX) for p in model.potentials)
