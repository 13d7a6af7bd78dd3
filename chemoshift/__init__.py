"""chemoshift: hierarchical Bayesian models for microRNA chemosensitisation studies.

The top layer: the Python objects a script holds, the assay registry, the pipeline
that writes run directories and the ``chemoshift`` command line. It sits on the four
layers ``chemoshift.data`` <- ``chemoshift.models`` <- ``chemoshift.inference`` and
``chemoshift.data`` <- ``chemoshift.reports``.
"""
