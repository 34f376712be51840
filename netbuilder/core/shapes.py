"""Shapes as text: the one grammar for every place a person types a tensor shape.

A shape is one sample's sizes, without the batch: ``(3, 224, 224)`` is a 3-channel
224×224 image. :func:`format_shape` writes it as ``3×224×224``; :func:`parse_shape`
reads it back from any of the usual spellings::

    3×224×224    3x224x224    3X224X224    3*224*224
    3,224,224    3, 224, 224  3 224 224    (3, 224, 224)    [3, 224, 224]    (10,)

The grammar, in full: optional white space and one opening ``(`` or ``[``, then whole
numbers separated by any run of commas, white space, ``x``, ``X``, ``×`` or ``*``, then
an optional trailing separator (``(10,)``) and one closing ``)`` or ``]``. There are 1
to :data:`MAX_RANK` sizes, each at least 1. (Brackets need not match, so a shape being
typed, ``(3, 224``, already reads as one.)

Used by the inspector's shape field, ``netbuilder import --input-shape``, the import
dialog and template options (``resnet18:input_shape=3x96x96``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: Most sizes a shape has (C×D×H×W).
MAX_RANK = 4
#: Separators between sizes.
_SEPARATORS = re.compile(r"[\s,xX×*]+")
#: A whole number, as ``int()`` reads it (in ASCII digits).
_INTEGER = re.compile(r"[+-]?[0-9]+")
#: What an error message suggests.
_EXAMPLE = "e.g. 3,224,224 or 3×224×224"


def format_shape(shape: Sequence[int] | None) -> str:
    """``(3, 32, 32)`` → ``3×32×32``; unknown (``None``) → ``?``."""
    return "?" if shape is None else "×".join(str(d) for d in shape)


def parse_shape(text: str) -> tuple[int, ...]:
    """``"3×224×224"``, ``"3,224,224"``, ``"(3, 224, 224)"``... → ``(3, 224, 224)``.

    Raises:
        ValueError: saying what is wrong: no sizes, a part that is not a whole number, a
            size below 1, or more than :data:`MAX_RANK` sizes.
    """
    parts = [part for part in _SEPARATORS.split(_unbracketed(text)) if part]
    if not parts:
        raise ValueError(f"{text.strip()!r} has no sizes: write the sizes, {_EXAMPLE}")
    sizes = tuple(_size(part, text) for part in parts)
    if len(sizes) > MAX_RANK:
        raise ValueError(f"{text.strip()!r} has {len(sizes)} sizes: a shape has 1 to "
                         f"{MAX_RANK} (C×H×W is 3)")
    return sizes


def _unbracketed(text: str) -> str:
    """``text`` without white space around it, one opening and one closing bracket."""
    inner = text.strip()
    if inner[:1] in ("(", "["):
        inner = inner[1:]
    if inner[-1:] in (")", "]"):
        inner = inner[:-1]
    return inner.strip()


def _size(part: str, text: str) -> int:
    """One size of ``text``, checked."""
    if not _INTEGER.fullmatch(part):
        raise ValueError(f"{text.strip()!r}: {part!r} is not a whole number; write the sizes "
                         f"separated by commas or ×, {_EXAMPLE}")
    size = int(part)
    if size < 1:
        raise ValueError(f"{text.strip()!r}: every size must be at least 1, got {size}")
    return size
