"""Make ``expression_subset.soft.gz``: a 2,000-probe subset of GEO GDS507 for the demo.

    python -m chemoshift.data.example.make_expression_subset [PATH/TO/GDS507.soft.gz]

GDS507 (GSE781; renal clear cell carcinoma vs adjacent normal kidney, HG-U133, 17 samples,
7 complete tumour / normal pairs; Lenburg et al. 2003, BMC Cancer 3:31) comes from
Bioconductor GEOquery's ``inst/extdata`` (../shared/reference/geo/GDS507.soft.gz). The
subset keeps the file's header and subsets unchanged and, of its 22,645 probe rows, the
300 with the largest and the 300 with the smallest mean tumour - normal log2 difference
over the complete pairs, plus 1,400 others drawn at random (seed 507), in file order.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np

from chemoshift.data.geo import read_expression

DEFAULT_SOURCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "geo" \
    / "GDS507.soft.gz"
OUT = Path(__file__).with_name("expression_subset.soft.gz")


def main(source: Path = DEFAULT_SOURCE) -> Path:
    data = read_expression(source)
    mean = np.nanmean(data.differences, axis=1)
    order = np.argsort(mean)
    chosen = set(order[:300]) | set(order[-300:])
    rest = np.setdiff1d(np.arange(data.n_probes), list(chosen))
    chosen |= set(np.random.default_rng(507).choice(rest, 1400, replace=False))
    keep = {data.probes[i] for i in chosen}
    lines = gzip.decompress(Path(source).read_bytes()).decode("utf-8").splitlines()
    start = lines.index("!dataset_table_begin")
    end = lines.index("!dataset_table_end")
    body = [line for line in lines[start + 2:end] if line.split("\t")[0] in keep]
    text = "\n".join([*lines[:start + 2], *body, *lines[end:]]) + "\n"
    text = text.replace("!dataset_feature_count = 22645", f"!dataset_feature_count = {len(body)}")
    OUT.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    return OUT


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE))
