"""Sphinx configuration: MyST Markdown pages, the example notebook executed by every
build (myst-nb), and an API reference from the docstrings (autodoc + autosummary; their
NumPy-style sections read as written by ``docs/_ext/plain_docstrings.py``), in the PyData
theme that PyMC and ArviZ use.

Build (warnings are errors, as in CI):

    python -m sphinx -W --keep-going -b html docs docs/_build/html

``CHEMOSHIFT_DOCS_EXECUTE=off`` skips running the notebook (a quick look at the pages);
CI always runs it.
"""

from __future__ import annotations

import os
import sys
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "chemoshift"
author = "the chemoshift developers"
copyright = "2026, the chemoshift developers"
release = metadata.version("chemoshift")
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_nb",  # Markdown pages (MyST) and notebooks, executed
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "plain_docstrings",  # the docstrings' sections as written (see docs/_ext)
]

exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute"]
templates_path = ["_templates"]
suppress_warnings = ["mystnb.unknown_mime_type"]

# -- MyST and notebooks ----------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3  # [text](page.md#a-heading) links, as GitHub renders them
nb_execution_mode = os.environ.get("CHEMOSHIFT_DOCS_EXECUTE", "force")
os.environ["CHEMOSHIFT_DOCS_BUILD"] = "1"  # the notebook's last (hidden) cell removes its runs
nb_execution_timeout = 1800  # seconds a cell may take (a study fit on a loaded machine)
nb_execution_raise_on_error = True  # a notebook that fails fails the build
nb_execution_show_tb = True
nb_merge_streams = True

# -- API reference ---------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
# a package page documents its own docstring, not what it re-exports (each object is
# documented once, in the module that defines it)
autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_mock_imports: list[str] = []

# -- HTML ------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"chemoshift {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "header_links_before_dropdown": 4,
    "show_toc_level": 2,
    # the notebook's tables and code need the width more than an in-page contents list
    "secondary_sidebar_items": {"*": ["page-toc", "sourcelink"],
                                "guides/*": ["page-toc", "sourcelink"],
                                "generated/*": ["page-toc", "sourcelink"],
                                "examples/*": []},
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_static_path: list[str] = []
