"""Messages shown to a person: control characters escaped, one line.

Error messages often echo what a file holds (a node's name, a path, a data set's class);
a file may hold NUL, ESC or other control characters that would garble a terminal or
forge its output. :func:`printable` escapes them; :func:`one_line` also joins a message's
lines, for the one-line errors of the command line.
"""

from __future__ import annotations

import unicodedata

#: Characters that reorder the text shown around them (the "Trojan source" controls).
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                           "\u2066\u2067\u2068\u2069")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _is_control(char: str) -> bool:
    return unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character written as an escape (``\\x1b``, ``\\x00``).

    Args:
        text: The message.
        keep_newlines: Leave line breaks as they are (for messages of several lines).
    """
    return "".join(_escape(c) if _is_control(c) and not (keep_newlines and c == "\n") else c
                   for c in text)


def one_line(text: str) -> str:
    """``text`` as one printable line: its lines stripped and joined with a space."""
    lines = (line.strip() for line in str(text).replace("\r\n", "\n").split("\n"))
    return printable(" ".join(line for line in lines if line))
