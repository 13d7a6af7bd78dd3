"""Bad files too large or too binary to keep in the repository, written at test time.

Each function takes the folder to write into and returns the path it wrote; a case in a
``cases.toml`` names the function as ``make = "name"``.
"""

from __future__ import annotations

import gzip
import random
import zipfile
from pathlib import Path

HERE = Path(__file__).parent
DOSE_RESPONSE = HERE / "dose_response" / "clean.csv"  # a small valid file the others start from
BAD_LINE = 900_001  # the million-row file's one bad line


def million_rows(folder: Path) -> Path:
    """A screen of 1,000,000 wells (100 drugs x 10,000 wells; one header line) whose line
    900,001 holds a plate reader's overflow mark where a response must be: the one bad
    cell must be named."""
    path = folder / "screen_million_rows.csv"
    cycle = "".join(f"{{drug}},Huh7,miR-NC,{dose},{1.2 - 0.1 * k:.3f}\n"
                    for k, dose in enumerate(("0", "0.01", "0.1", "1", "10")))
    block = cycle * 2_000  # one drug's 10,000 wells
    text = "drug,cell_line,treatment,concentration,response\n" + "".join(
        block.replace("{drug}", f"D{d:02d}") for d in range(100))
    lines = text.split("\n")
    cells = lines[BAD_LINE - 1].split(",")
    lines[BAD_LINE - 1] = ",".join([*cells[:-1], "OVRFLW"])
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def xlsx_renamed_csv(folder: Path) -> Path:
    """An Excel workbook saved as .xlsx, then renamed .csv (a ZIP of xl/ parts)."""
    path = folder / "wells.csv"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as workbook:
        workbook.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        workbook.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
        workbook.writestr("xl/worksheets/sheet1.xml", DOSE_RESPONSE.read_text())
    return path


def xls_workbook(folder: Path) -> Path:
    """An Excel 97-2003 workbook (an OLE2 compound file) named .csv."""
    path = folder / "plate_reader_export.csv"
    path.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + bytes(504) + b"Workbook" * 64)
    return path


def truncated_gzip(folder: Path) -> Path:
    """A gzip-compressed well file cut off part way (an interrupted download or copy)."""
    path = folder / "wells.csv.gz"
    whole = gzip.compress(DOSE_RESPONSE.read_bytes())
    path.write_bytes(whole[: len(whole) // 2])
    return path


def random_bytes(folder: Path) -> Path:
    """Bytes that are no text, with no 0 byte among them (an unknown binary format)."""
    path = folder / "export.csv"
    generator = random.Random(24)
    path.write_bytes(bytes(generator.randrange(1, 256) for _ in range(4096)))
    return path


def pdf_report(folder: Path) -> Path:
    """A plate reader's PDF report given in place of its CSV export."""
    path = folder / "report.csv"
    path.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
                     b"trailer\n<< /Root 1 0 R >>\n%%EOF\n")
    return path


def blot_image(folder: Path) -> Path:
    """A blot's TIFF image given in place of its densitometry table."""
    path = folder / "blot.csv"
    path.write_bytes(b"II*\x00\x08\x00\x00\x00" + bytes(range(256)) * 4)
    return path


def utf16_bad_value(folder: Path) -> Path:
    """Excel's 'Unicode text' (UTF-16, tab-separated) of the small dose-response file with
    'n.d.' where line 5's response must be: read as UTF-16, the line named."""
    path = folder / "wells_unicode.txt"
    lines = DOSE_RESPONSE.read_text().splitlines()
    cells = lines[4].split(",")
    cells[-1] = "n.d."
    lines[4] = ",".join(cells)
    text = "\r\n".join(line.replace(",", "\t") for line in lines) + "\r\n"
    path.write_bytes(text.encode("utf-16"))
    return path


def utf16_study(folder: Path) -> Path:
    """A study file saved as 'Unicode' (UTF-16) by Windows Notepad."""
    path = folder / "study_unicode.toml"
    text = (HERE / "study" / "controls_not_in_file.toml").read_text()
    path.write_bytes(text.encode("utf-16"))
    return path


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
    """An .xlsx workbook (a ZIP of xl/ parts) saved under a .tsv name."""
    path = Path(folder) / "expression.tsv"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as workbook:
        workbook.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        workbook.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
    return path
