"""The study: a file naming the assays to fit and the claims to evaluate (:mod:`.spec`,
read by :mod:`.load`, its levels checked by :mod:`.levels`), the runner that fits them
and writes the study folder (:mod:`.run`), and its Python entry (:mod:`.api`,
``chemoshift.run_study``).

    from chemoshift.study import load_study
    study = load_study("study.toml")   # every problem at once, as file:line:key
"""

from chemoshift.study.load import load_study
from chemoshift.study.spec import AssaySpec, NetworkSpec, Study, bundled_study

__all__ = ["AssaySpec", "NetworkSpec", "Study", "bundled_study", "load_study"]
