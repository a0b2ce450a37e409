"""Untrusted text made safe to show: the one module that decides what of a payload reaches a
terminal (no escape sequence, no cursor move, no bidi reordering, no markup).

Three forms, one per kind of output:
  printable  plain-text lines (`tail`, `validate`): every non-printable character as its
             Python escape (`\\x1b`, `\\n`), so the line can be read and pasted back;
  visible    the live TUI: control characters as one-cell symbols (ESC -> "␛", newline
             -> "␊"), C1 controls and bidi overrides as escapes;
  masked     one character for one ("?", or a wildcard in a query), where a position must
             stay true, such as the caret under a bad query;
  pictured   code we wrote from a payload (JSON, a Python or JS literal): the escapes of
             control characters (`\\u001b`, `\\x1b`) drawn as `visible` draws the character,
             so ESC reads "␛" in the list, Pretty, Raw and Problems alike.
"""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls become visible symbols: a payload can never move the cursor,
# change colours or set the window title of the terminal that shows it.
_CONTROL_PICTURES = {code: chr(0x2400 + code) for code in range(0x20)}
_CONTROL_PICTURES[0x7F] = "\u2421"
_CONTROL_PICTURES.update({code: f"\\x{code:02x}" for code in range(0x80, 0xA0)})
# Bidirectional overrides would let a payload reorder what is shown around it.
_CONTROL_PICTURES.update(
    {code: f"\\u{code:04x}" for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
)


def printable(text: str) -> str:
    """`text` with every non-printable character (escape sequences, newlines, bidi) escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def visible(text: str) -> str:
    """`text` with control characters shown as symbols (ESC -> "␛", newline -> "␊") and
    C1 controls and bidi overrides as escapes."""
    return text.translate(_CONTROL_PICTURES)


def visible_lines(text: str) -> str:
    """`visible`, keeping the newlines of text we laid out ourselves."""
    return "\n".join(visible(part) for part in text.split("\n"))


# An escaped backslash (kept as it is, so `\\\\x1b` stays text), or the escape of a C0 control
# or DEL in JSON (`\\u001b`) or Python (`\\x1b`) form.
_CONTROL_ESCAPE = re.compile(r"\\(?:\\|u00([01][0-9a-fA-F]|7[fF])|x([01][0-9a-fA-F]|7[fF]))")


def pictured(code: str) -> str:
    """`code` (JSON or a literal we generated, already free of raw control characters) with
    each escaped control character drawn as its one-cell picture; `\\n`, `\\t` and the other
    short escapes stay as code reads them."""
    return _CONTROL_ESCAPE.sub(_picture, code)


def _picture(match: re.Match[str]) -> str:
    digits = match.group(1) or match.group(2)
    return match.group(0) if digits is None else _CONTROL_PICTURES[int(digits, 16)]


def masked(text: str, mask: str = "?") -> str:
    """`text` with each non-printable character replaced by `mask` (one character): same
    length, same positions. The live search input takes its query this way, with the query
    language's wildcard as the mask, so a pasted or generated query still finds what it
    names."""
    return "".join(char if char.isprintable() else mask for char in text)


def _escape(ch: str) -> str:
    return ch.encode("unicode_escape").decode("ascii")
