"""Bad files too large or too binary to keep in the repository, written at test time.

Each function takes the folder to write into and returns the path it wrote; a case in a
``cases.toml`` names the function as ``make = "name"``.
"""

import gzip
from pathlib import Path

HERE = Path(__file__).parent


def _truncated(source: Path, folder: Path, name: str) -> Path:
    """``source`` gzipped and cut to half its bytes: a download that stopped."""
    packed = gzip.compress(source.read_bytes())
    path = Path(folder) / name
    path.write_bytes(packed[:len(packed) // 2])
    return path


def truncated_qpcr_gzip(folder: Path) -> Path:
    return _truncated(HERE / "qpcr" / "negative_cq.csv", folder, "cts.csv.gz")


def truncated_soft_gzip(folder: Path) -> Path:
    example = HERE.parents[1] / "data" / "example" / "expression_subset.soft.gz"
    path = Path(folder) / "GDS_subset.soft.gz"
    packed = example.read_bytes()
    path.write_bytes(packed[:len(packed) // 2])
    return path


def truncated_gmt_gzip(folder: Path) -> Path:
    return _truncated(HERE.parents[1] / "data" / "example" / "KEGG_2016_Human.gmt", folder,
                      "sets.gmt.gz")


def truncated_string_gzip(folder: Path) -> Path:
    return _truncated(HERE.parents[1] / "data" / "example" / "string_network_dlbcl.tsv",
                      folder, "network.tsv.gz")


def xlsx_expression(folder: Path) -> Path:
    """The first bytes of an .xlsx workbook (a zip archive) saved under a .tsv name."""
    path = Path(folder) / "expression.tsv"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + bytes(range(256)))
    return path
