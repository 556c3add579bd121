"""Text from users (file names, model names, class names) placed into generated code and Markdown, made inert.

A file name may hold any byte but ``/`` and NUL: a newline ends a ``//`` comment and what follows becomes code, a
``"`` ends a string literal, ``$name`` (Kotlin) and ``\\(expr)`` (Swift) are string templates. Every value put into
a generated source goes through one of these functions, so the token structure of the source never depends on it.
"""

from __future__ import annotations

import re

# Every character that any of Kotlin, Swift, Python's str.splitlines or a Markdown renderer treats as a line break,
# plus the other C0/C1 controls (a terminal or an editor may act on them) and the bidirectional overrides that make
# an editor show code in another order than the compiler reads it ("Trojan Source", CVE-2021-42574).
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def comment_text(value: object) -> str:
    """``value`` for a ``//`` comment: control characters and line breaks become ``?``, so the comment cannot end."""
    return _CONTROLS.sub("?", str(value))


def kotlin_string(value: object) -> str:
    """A Kotlin string literal (quotes included) holding ``value`` exactly: ``\\``, ``"``, ``$``, controls escaped."""
    out = []
    for ch in str(value):
        if ch in '\\"$':
            out.append("\\" + ch)
        elif _CONTROLS.fullmatch(ch):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def swift_string(value: object) -> str:
    """A Swift string literal (quotes included) holding ``value`` exactly: ``\\`` (hence ``\\(``), ``"`` and controls
    escaped."""
    out = []
    for ch in str(value):
        if ch in '\\"':
            out.append("\\" + ch)
        elif _CONTROLS.fullmatch(ch):
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


# intraword "_" (efficientnet_b0) and a "#" not at a line's start are literal in CommonMark/GFM: left readable
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|~])")


def markdown_text(value: object) -> str:
    """``value`` as literal Markdown text on one line (a table cell or a heading): line breaks become spaces and the
    characters that start markup, raw HTML or a new table cell (``|``) are backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", _CONTROLS.sub(" ", str(value)))


def has_line_break(value: str) -> bool:
    """Whether ``value`` would span lines in a one-name-per-line file such as labels.txt."""
    return len(value.splitlines()) > 1 or bool(_CONTROLS.search(value))
