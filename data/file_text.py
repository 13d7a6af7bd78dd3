"""A delimited file's bytes as text, or a refusal saying what the file is instead.

:func:`file_text` undoes gzip, finds the encoding (UTF-8 with or without a byte-order
mark; UTF-16 with one, or without one when every other byte is 0; else Windows-1252, as
a Windows Excel export writes, where ``µ`` is byte 0xB5), and names what a file that is
not text is, from its first bytes: an Excel workbook (.xlsx renamed .csv is common), a
PDF, an image, an archive, a damaged gzip, or bytes no text holds (control bytes).
Every conversion is said in ``notes``.
"""

from __future__ import annotations

import gzip
import re
import zlib

from chemoshift.data.errors import InputError, Problem

TEXT_EXPECTED = ("a delimited text file (CSV or TSV): open it in its program and save it "
                 "as CSV")
# what a file that is not delimited text is, by its first bytes (more specific first)
SIGNATURES = (
    (b"PAR1", "a Parquet file", "a delimited text file (CSV); Parquet is read by sharded "
     "dose-response fits (--shard-by COLUMN)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls) or another "
     "Office document", "a CSV file: open it in Excel and save it as CSV"),
    (b"%PDF", "a PDF document", TEXT_EXPECTED),
    (b"\x89PNG", "an image (PNG)", "the measurements as CSV (e.g. ImageJ's Results table, "
     "saved as CSV), not the image"),
    (b"\xff\xd8\xff", "an image (JPEG)", "the measurements as CSV, not the image"),
    (b"II*\x00", "an image (TIFF)", "the measurements as CSV, not the image"),
    (b"MM\x00*", "an image (TIFF)", "the measurements as CSV, not the image"),
    (b"BZh", "a bzip2-compressed file", "the CSV uncompressed (or gzip-compressed, .gz)"),
    (b"\xfd7zXZ\x00", "an xz-compressed file", "the CSV uncompressed (or gzip-compressed, .gz)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "the CSV itself, taken out of the archive"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_C1 = re.compile(r"[\x80-\x9f]")  # only a Latin-1 reading of bytes gives these


def file_text(raw: bytes, name: str, notes: list[str]) -> str:
    """The text of a delimited file's bytes: gzip undone, the encoding found (see the module
    docstring), noted in ``notes``; InputError naming what the file is when it is not text
    (an Excel workbook, a PDF, an image, a damaged gzip, random bytes)."""
    if raw.startswith(b"\x1f\x8b"):
        raw = _gunzip(raw, name)
        notes.append("the file is gzip-compressed; read what it holds")
    for magic, what, expected in SIGNATURES:
        if raw.startswith(magic):
            raise InputError([Problem(name, None, None, what, expected)])
    if raw.startswith(b"PK\x03\x04"):
        raise InputError([Problem(name, None, None, *_zip_kind(raw))])
    bom = raw.startswith((b"\xff\xfe", b"\xfe\xff"))
    utf16 = None if bom else _bomless_utf16(raw)
    if utf16:
        notes.append(f"the file is UTF-16 text without a byte-order mark ({utf16}); read as such")
        text = raw.decode(utf16)
    elif b"\x00" in raw and not bom:
        where = raw[:raw.index(b"\x00")].count(b"\n") + 1
        raise InputError([Problem(name, where, None, "a binary file (byte 0x00), not text",
                                  TEXT_EXPECTED)])
    else:
        text = _decode(raw, notes)
    text = text.rstrip("\x1a")  # an old DOS end-of-file mark
    control = _CONTROL.search(text) or (_C1.search(text) if any(
        "Latin-1" in n for n in notes) else None)
    if control:
        where = text[:control.start()].count("\n") + 1
        raise InputError([Problem(name, where, None, f"a binary file, not text (control byte "
                                  f"0x{ord(control.group()):02X} on line {where})",
                                  TEXT_EXPECTED)])
    return text


def _gunzip(raw: bytes, name: str) -> bytes:
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise InputError([Problem(name, None, None, f"a truncated or damaged gzip file "
                                  f"({error})", "the whole .gz file (copy it again), or the "
                                  "CSV uncompressed")]) from error


def _zip_kind(raw: bytes) -> tuple[str, str]:
    """What a ZIP container is (by the folders its members name), and what to do."""
    head = raw[:200_000]
    for folder, kind, program in ((b"xl/", "an Excel workbook (.xlsx)", "Excel"),
                                  (b"word/", "a Word document (.docx)", "Word"),
                                  (b"ppt/", "a PowerPoint file (.pptx)", "PowerPoint"),
                                  (b"content.xml", "an OpenDocument file (.ods / .odt)",
                                   "LibreOffice")):
        if folder in head:
            return kind, f"a CSV file: open it in {program} and save the table as CSV"
    return "a ZIP archive", "the CSV file itself, taken out of the archive"


def _bomless_utf16(raw: bytes) -> str | None:
    """``utf-16-le`` / ``utf-16-be`` for UTF-16 text without a byte-order mark (text with
    mostly ASCII characters: every other byte 0), else None."""
    head = raw[:4096]
    head = head[:len(head) - len(head) % 2]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    for zeros, other, codec in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros.count(0) >= 0.9 * len(zeros) and other.count(0) == 0:
            try:
                raw.decode(codec)
            except UnicodeDecodeError:
                return None
            return codec
    return None


def _decode(raw: bytes, notes: list[str]) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        notes.append("the file is UTF-16 text (a spreadsheet's 'Unicode text'); read as such")
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:  # cut off mid-character: keep what is whole
            return raw[:len(raw) - len(raw) % 2].decode("utf-16", errors="replace")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        where = raw[:error.start].count(b"\n") + 1
        try:
            text = raw.decode("cp1252")
            encoding = "Windows-1252"
        except UnicodeDecodeError:
            text, encoding = raw.decode("latin-1"), "Latin-1"
        notes.append(f"the file is not UTF-8 (byte 0x{raw[error.start]:02X} on line {where}); "
                     f"read it as {encoding}, where byte 0xB5 is µ")
        return text
