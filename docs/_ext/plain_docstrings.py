"""Render chemoshift's docstrings as they are written, without rewriting them.

The docstrings follow NumPy's section layout (``Parameters`` over a line of dashes) but
describe each entry in words, ``name : what it is``, rather than ``name : type``, and use
indented blocks for examples and formulas. Napoleon would read the words as a type and
split literals at colons, so this extension reads them instead (before autodoc renders
them):

- a section becomes a rubric; its ``name : text`` entries (continuation lines indented)
  become a definition list, anything else in it a paragraph;
- an indented block after a blank line, outside an entry, is a literal block (code, a
  formula, a table of commands), as the docstrings mean it;
- a ``|`` outside literals is text, not a reST substitution.
"""

from __future__ import annotations

import re

from sphinx.application import Sphinx

SECTIONS = {"parameters", "other parameters", "attributes", "returns", "yields", "raises",
            "warns", "notes", "examples", "see also", "references", "methods"}
ENTRY = re.compile(r"^(?P<name>\*{0,2}[A-Za-z_][\w.*]*(?:,\s*\*{0,2}[A-Za-z_][\w.*]*)*)"
                   r"(?:\s+:\s*(?P<text>.*))?$")
LITERAL = re.compile(r"(``.+?``)")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _is_header(lines: list[str], i: int) -> bool:
    if i + 1 >= len(lines):
        return False
    title, rule = lines[i].strip(), lines[i + 1].strip()
    return (title.lower() in SECTIONS and len(rule) >= 3 and set(rule) == {"-"}
            and _indent(lines[i]) == 0)


def _section(title: str, body: list[str]) -> list[str]:
    """A section's lines as a rubric and a definition list (entries) or paragraphs."""
    out = [f".. rubric:: {title}", ""]
    entries = title.lower() in {"", "parameters", "other parameters", "attributes", "methods"}
    i = 0
    while i < len(body):
        line = body[i]
        if not line.strip():
            out.append("")
            i += 1
            continue
        match = ENTRY.match(line) if entries and _indent(line) == 0 else None
        if match:
            names = ", ".join(f"``{n.strip()}``" for n in match["name"].split(","))
            text = [match["text"] or ""]
            i += 1
            while i < len(body) and body[i].strip() and _indent(body[i]) > 0:
                text.append(body[i].strip())
                i += 1
            text = [t for t in text if t] or ["(no description)"]  # a term needs one
            out += [names, *(f"    {t}" for t in text), ""]
            continue
        block = []
        while i < len(body) and body[i].strip():
            block.append(body[i])
            i += 1
        base = min(_indent(b) for b in block)
        out += [b[base:] for b in block] + [""]
    return out


def _literal_blocks(lines: list[str]) -> list[str]:
    """Indented blocks after a blank line become literal blocks (unless already one, or a
    directive's content, or a list item's continuation)."""
    out: list[str] = []
    previous = ""  # the last non-blank line before the blank
    i = 0
    while i < len(lines):
        line = lines[i]
        starts_block = (line.strip() and _indent(line) > 0 and out and not out[-1].strip()
                        and previous and _indent(previous) == 0
                        and not previous.rstrip().endswith("::")
                        and not previous.lstrip().startswith((".. ", "- ", "* ")))
        if starts_block:
            out[-1:] = ["", "::", ""]
            while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > 0):
                out.append(lines[i])
                i += 1
            previous = out[-1] if out[-1].strip() else next(
                (o for o in reversed(out) if o.strip()), "")
            continue
        out.append(line)
        if line.strip():
            previous = line
        i += 1
    return out


def _escape_pipes(lines: list[str]) -> list[str]:
    """``|`` as text outside inline and block literals."""
    out, in_literal, literal_indent = [], False, 0
    for line in lines:
        if in_literal and line.strip() and _indent(line) <= literal_indent:
            in_literal = False
        if not in_literal and "|" in line:
            line = "".join(part if part.startswith("``") else part.replace("|", r"\|")
                           for part in LITERAL.split(line))
        out.append(line)
        if not in_literal and line.rstrip().endswith("::"):
            in_literal, literal_indent = True, _indent(line)
    return out


def _entry_lists(lines: list[str]) -> list[str]:
    """A paragraph of ``name : text`` lines (continuations indented) outside a section is
    a list of entries too: a definition list."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() and (i == 0 or not lines[i - 1].strip()):
            end = i
            while end < len(lines) and lines[end].strip():
                end += 1
            block = lines[i:end]
            heads = [b for b in block if _indent(b) == 0]
            if len(heads) > 1 and all((m := ENTRY.match(b)) and m["text"] for b in heads):
                out += _section("", block)[2:]
                i = end
                continue
        out.append(lines[i])
        i += 1
    return out


def plain(lines: list[str]) -> list[str]:
    """A docstring's lines, readable as reStructuredText."""
    out: list[str] = []
    body: list[str] = []
    i = 0
    while i < len(lines):
        if _is_header(lines, i):
            out += _literal_blocks(body)
            body = []
            title = lines[i].strip()
            i += 2
            section = []
            while i < len(lines) and not _is_header(lines, i):
                section.append(lines[i])
                i += 1
            out += _section(title, section)
            continue
        body.append(lines[i])
        i += 1
    out += _literal_blocks(body)
    return _escape_pipes(_entry_lists(out))


def process(app: Sphinx, what: str, name: str, obj, options, lines: list[str]) -> None:
    lines[:] = plain(lines)


def setup(app: Sphinx) -> dict:
    app.connect("autodoc-process-docstring", process, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
