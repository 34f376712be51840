"""Argument types shared by the command-line tools (``argparse`` ``type=`` callables).

Nothing here imports torch or Qt.
"""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """``text`` as a whole number of at least 1 (a count: batch size, steps, opset).

    Raises:
        argparse.ArgumentTypeError: naming the text, when it is not a whole number or is
            below 1; argparse shows it as one usage line and exits with status 2.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give at least 1")
    return value
