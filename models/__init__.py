"""PyMC model builders, one module per assay: validated data in, ``pm.Model`` out."""

from chemoshift.models.dose_response import DEFAULT_PRIORS, DoseResponsePriors, build_model

__all__ = ["DEFAULT_PRIORS", "DoseResponsePriors", "build_model"]
