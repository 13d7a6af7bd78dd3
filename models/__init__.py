"""PyMC model builders, one module per assay: validated data in, ``pm.Model`` out."""

from chemoshift.models.dose_response import (
    DEFAULT_PRIORS,
    DoseResponsePriors,
    build_model,
    model_forms,
    model_terms,
)

__all__ = ["DEFAULT_PRIORS", "DoseResponsePriors", "build_model", "model_forms", "model_terms"]
