"""Untrusted text made safe to show: the one module that decides what of a payload reaches a
terminal (no escape sequence, no cursor move, no bidi reordering, no markup).

One rule says which characters never reach a terminal as themselves: those a terminal acts on
instead of drawing (C0 controls, DEL, C1 controls) and those that reorder the text around them
(the bidi controls: embeddings, overrides, isolates and the marks LRM, RLM, ALM). Four forms,
one per kind of output:
  printable  plain-text lines (`tail`, `validate`): every non-printable character as its
             Python escape (`\\x1b`, `\\n`, `\\u202e`), so the line can be read and pasted back;
  visible    the live TUI: each of them as a one-cell picture, ESC -> "␛", newline -> "␊"
             (Unicode's control pictures), any C1 control -> "␦" and any bidi control -> "⇄"
             (Unicode has no picture per character for those two kinds);
  masked     one character for one ("?", or a wildcard in a query), where a position must
             stay true, such as the caret under a bad query;
  pictured   code we wrote from a payload (JSON, a Python or JS literal): the escape of each of
             them (`\\u001b`, `\\x9b`, `\\u202e`) drawn as `visible` draws the character, so
             ESC reads "␛" in the list, Pretty, Raw and Problems alike (`escaped` writes, as
             `\\uXXXX`, those an encoder such as JSON leaves raw).

Pictures, not escapes, in the TUI: a picture takes the one cell the character would, so the
list's columns and cut points stay true (`\\u202e` takes six); it cannot be mistaken for text
the payload holds (a double-encoded string really holds the six characters `\\u202e`); and it
reads the same in a JSON, JavaScript or Python view. Which C1 or bidi control it was is in the
exact bytes (`y`) and in `segdebug tail`.
"""

from __future__ import annotations

import re

C1_PICTURE = "\u2426"  # ␦ SYMBOL FOR SUBSTITUTE FORM TWO
BIDI_PICTURE = "\u21c4"  # ⇄ RIGHTWARDS ARROW OVER LEFTWARDS ARROW
BIDI_CONTROLS = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))

# The rule, as code point -> picture: a payload can never move the cursor, change colours,
# set the window title or reorder what is shown around it.
_CONTROL_PICTURES = {code: chr(0x2400 + code) for code in range(0x20)}
_CONTROL_PICTURES[0x7F] = "\u2421"
_CONTROL_PICTURES.update(dict.fromkeys(range(0x80, 0xA0), C1_PICTURE))
_CONTROL_PICTURES.update(dict.fromkeys(BIDI_CONTROLS, BIDI_PICTURE))
# What an encoder may leave raw inside a string: JSON and repr escape every C0 control (and
# code keeps its own newlines raw), JSON leaves DEL, C1 and bidi controls as they are.
_ESCAPES = {code: f"\\u{code:04x}" for code in _CONTROL_PICTURES if code >= 0x7F}


def printable(text: str) -> str:
    """`text` with every non-printable character (escape sequences, newlines, bidi) escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def visible(text: str) -> str:
    """`text` with each control character drawn as its one-cell picture (ESC -> "␛", newline
    -> "␊", a C1 control -> "␦", a bidi control -> "⇄")."""
    return text.translate(_CONTROL_PICTURES)


def visible_lines(text: str) -> str:
    """`visible`, keeping the newlines of text we laid out ourselves."""
    return "\n".join(visible(part) for part in text.split("\n"))


def escaped(code: str) -> str:
    """`code` (JSON or a literal an encoder wrote) with each character `visible` pictures that
    the encoder left raw (DEL, C1, bidi controls) written as its `\\uXXXX` escape, which JSON,
    JavaScript and Python all read back as that character."""
    return code.translate(_ESCAPES)


# An escaped backslash (kept as it is, so `\\\\x1b` stays text), or a `\\uXXXX` (JSON, JS,
# Python) or `\\xXX` (Python, JS) escape; `_picture` draws those of the rule's characters.
_CONTROL_ESCAPE = re.compile(r"\\(?:\\|u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2}))")


def pictured(code: str) -> str:
    """`code` (JSON or a literal we generated, already free of raw control characters) with
    each escaped control character drawn as its one-cell picture; `\\n`, `\\t` and the other
    short escapes, and every other escape, stay as code reads them."""
    return _CONTROL_ESCAPE.sub(_picture, code)


def _picture(match: re.Match[str]) -> str:
    digits = match.group(1) or match.group(2)
    return match.group(0) if digits is None else _CONTROL_PICTURES.get(int(digits, 16), match.group(0))


def masked(text: str, mask: str = "?") -> str:
    """`text` with each non-printable character replaced by `mask` (one character): same
    length, same positions. The live search input takes its query this way, with the query
    language's wildcard as the mask, so a pasted or generated query still finds what it
    names."""
    return "".join(char if char.isprintable() else mask for char in text)


def _escape(ch: str) -> str:
    return ch.encode("unicode_escape").decode("ascii")
