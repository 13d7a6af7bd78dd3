"""The installed chemoshift's version ("unknown" in a source tree that is not installed)."""

from importlib import metadata

try:
    __version__ = metadata.version("chemoshift")
except metadata.PackageNotFoundError:  # run from a source tree that is not installed
    __version__ = "unknown"
