"""Tidy assay schemas, validation and readers: files in, typed tables out."""

from chemoshift.data.dose_response import DoseResponseData, read_dose_response
from chemoshift.data.errors import InputError, Problem

__all__ = ["DoseResponseData", "InputError", "Problem", "read_dose_response"]
