"""Write keys as `live --mask-keys` shows them in the list and the detail tabs and puts them out
(`y` copies, `w` writes): masked wherever they appear (debugger.message.mask_key), not only in
the list's Source and the Request tab. The user asked that keys stay off the screen and out of
what they paste into a ticket.

A key appears as a JSON string: the message's and the envelope's `writeKey`, a refused call's
raw body, a forwarded batch's envelope. So a mask replaces JSON string values: every value of a
`writeKey` field, and every string equal to one of the event's keys; the rest of the text is
left alone (a short key such as "dev" must not mangle "developer"). A problem's words quote a
key too (the allow-list's "write key 'wk_…' is not accepted by this collector"): there a key is
masked where it stands as a whole quoted token, quoted as the rules quote (Python's repr, or
JSON), never inside a longer word. Pure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

from debugger.message import mask_key

WRITE_KEY = "writeKey"

# A JSON string literal, and whether it is the value of a writeKey field. Scanning left to
# right from the start of valid JSON, each match begins at a string's opening quote.
_STRING = re.compile(r'("writeKey"\s*:\s*)?("(?:[^"\\]|\\.)*")')
# How a problem's words quote a key: the rules use repr ('wk_1'); JSON-style ("wk_1") too.
_QUOTED_FORMS = (repr, lambda key: json.dumps(key, ensure_ascii=False))
_PROBLEM_WORDS = ("message", "hint")


@dataclass(frozen=True)
class KeyMask:
    """The write keys of one event, and how to mask them in its values and JSON text."""

    keys: frozenset[str]

    @classmethod
    def of(cls, envelope: Mapping[str, Any]) -> KeyMask:
        """The keys known from the envelope's writeKey and its message's writeKey."""
        message = envelope.get("message")
        found = (envelope.get(WRITE_KEY), message.get(WRITE_KEY) if isinstance(message, Mapping) else None)
        return cls(frozenset(key for key in found if isinstance(key, str) and key))

    def value(self, value: Any) -> Any:
        """A copy of a JSON value with every writeKey field's string and every string equal
        to a known key masked."""
        if isinstance(value, Mapping):
            return {name: mask_key(item) if name == WRITE_KEY and isinstance(item, str) else self.value(item)
                    for name, item in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, str) and value in self.keys:
            return mask_key(value)
        return value

    def json_text(self, text: str) -> str:
        """JSON text (or text that mostly is, such as a refused call's body) with the same
        strings masked, everything else as it was."""
        return _STRING.sub(self._string, text)

    def _string(self, match: re.Match[str]) -> str:
        field, literal = match.group(1), match.group(2)
        try:
            decoded = json.loads(literal)
        except ValueError:
            return match.group(0)
        if not isinstance(decoded, str) or not (field or decoded in self.keys):
            return match.group(0)
        return (field or "") + json.dumps(mask_key(decoded), ensure_ascii=False)

    def words(self, text: str) -> str:
        """Prose (a problem's message or hint) with each known key masked where it is quoted
        whole, as `'wk_secret_123'` (repr) or `"wk_secret_123"` (JSON), kept in its quotes; not
        where the quotes touch a word (`x'dev'y`: part of something longer)."""
        quoted = {form(key): form(mask_key(key)) for key in self.keys for form in _QUOTED_FORMS}
        if not quoted:
            return text
        tokens = re.compile(r"(?<!\w)(?:%s)(?!\w)" % "|".join(map(re.escape, sorted(quoted, key=len, reverse=True))))
        return tokens.sub(lambda match: quoted[match.group(0)], text)

    def problems(self, problems: Any) -> Any:
        """An envelope's problems with their message and hint masked (`words`)."""
        if not isinstance(problems, list):
            return problems
        return [{**item, **{part: self.words(item[part]) for part in _PROBLEM_WORDS
                            if isinstance(item.get(part), str)}}
                if isinstance(item, Mapping) else item for item in problems]

    def envelope(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """The envelope as the viewer shows it: its message, a refused call's raw text and its
        problems' words masked. Its own `writeKey` stays: the list and the Request tab show it
        through shown_key."""
        raw = envelope.get("raw")
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        return {**envelope, "message": self.value(envelope.get("message")),
                "raw": self.json_text(text) if isinstance(text, str) else raw,
                "problems": self.problems(envelope.get("problems"))}


def as_shown(envelope: Mapping[str, Any], mask_keys: bool) -> Mapping[str, Any]:
    """The envelope as the viewer shows it and puts it out (the list, every tab, `y`, `w`):
    with `mask_keys`, its write keys masked wherever they appear (message, raw text, problems);
    as it is otherwise."""
    return KeyMask.of(envelope).envelope(envelope) if mask_keys else envelope
