"""chemoshift: hierarchical Bayesian models for microRNA chemosensitisation studies.

    import chemoshift

    fit = chemoshift.fit_dose_response("wells.csv", settings=chemoshift.SamplerSettings(seed=1))
    fit.shifts(), fit.plot_curves(), fit.save("runs/screen1")
    chemoshift.load("runs/screen1")

The top layer: the Python objects a script holds, the assay registry, the pipeline
that writes run directories and the ``chemoshift`` command line. It sits on the four
layers ``chemoshift.data`` <- ``chemoshift.models`` <- ``chemoshift.inference`` and
``chemoshift.data`` <- ``chemoshift.reports``. Names are imported on first use, so
``import chemoshift`` stays quick (PyMC loads only when a fit or a load needs it).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from chemoshift.version import __version__ as __version__

if TYPE_CHECKING:
    from chemoshift.data.dose_response import DoseResponseData
    from chemoshift.data.errors import InputError
    from chemoshift.dose_response import DoseResponseFit, fit_dose_response
    from chemoshift.inference.fit import SamplerSettings
    from chemoshift.mechanism import (
        ApoptosisFit,
        LuciferaseFit,
        WesternFit,
        fit_apoptosis,
        fit_luciferase,
        fit_western,
    )
    from chemoshift.models.apoptosis import ApoptosisPriors
    from chemoshift.models.dose_response import DoseResponsePriors
    from chemoshift.models.log_ratio import LogRatioPriors
    from chemoshift.models.qpcr import QpcrPriors
    from chemoshift.pipeline import load
    from chemoshift.qpcr import QpcrFit, fit_qpcr
    from chemoshift.study.api import StudyResult, run_study

__all__ = [
    "DoseResponseData",
    "DoseResponseFit",
    "DoseResponsePriors",
    "ExpressionFit",
    "ExpressionPriors",
    "InputError",
    "SamplerSettings",
    "fit_dose_response",
    "fit_expression",
    "load",
]
__all__ += ["QpcrFit", "QpcrPriors", "fit_qpcr"]
__all__ += ["ApoptosisFit", "ApoptosisPriors", "LogRatioPriors", "LuciferaseFit", "WesternFit",
            "fit_apoptosis", "fit_luciferase", "fit_western"]
__all__ += ["StudyResult", "run_study"]

_HOMES = {  # public name -> the module that defines it
    "DoseResponseData": "chemoshift.data.dose_response",
    "DoseResponseFit": "chemoshift.dose_response",
    "DoseResponsePriors": "chemoshift.models.dose_response",
    "QpcrFit": "chemoshift.qpcr",  # qPCR: Ct model, ΔΔCt with intervals
    "QpcrPriors": "chemoshift.models.qpcr",
    "fit_qpcr": "chemoshift.qpcr",
    "InputError": "chemoshift.data.errors",
    "SamplerSettings": "chemoshift.inference.fit",
    "fit_dose_response": "chemoshift.dose_response",
    "load": "chemoshift.pipeline",
    "ExpressionFit": "chemoshift.expression",
    "ExpressionPriors": "chemoshift.models.expression",
    "fit_expression": "chemoshift.expression",
    "LuciferaseFit": "chemoshift.mechanism",  # luciferase, Western blot, apoptosis
    "WesternFit": "chemoshift.mechanism",
    "ApoptosisFit": "chemoshift.mechanism",
    "fit_luciferase": "chemoshift.mechanism",
    "fit_western": "chemoshift.mechanism",
    "fit_apoptosis": "chemoshift.mechanism",
    "LogRatioPriors": "chemoshift.models.log_ratio",
    "ApoptosisPriors": "chemoshift.models.apoptosis",
    "StudyResult": "chemoshift.study.api",  # a study run from Python: claims, fits, report
    "run_study": "chemoshift.study.api",
}


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'chemoshift' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value  # import once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
