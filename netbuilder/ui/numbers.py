"""How counts and sizes are written in the editor (status bar, inspector, dialogs)."""

from __future__ import annotations

_UNITS = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"))


def grouped(count: int) -> str:
    """``61706`` → ``61,706``."""
    return f"{count:,}"


def compact(count: float) -> str:
    """``416520`` → ``416.5 K``; ``3.6e9`` → ``3.60 G``; small numbers stay whole."""
    for scale, unit in _UNITS:
        if abs(count) >= scale:
            value = count / scale
            digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
            return f"{value:.{digits}f} {unit}"
    return f"{count:,.0f}"


def megabytes(size_mb: float) -> str:
    """``0.2468`` → ``0.25 MB``; ``97.49`` → ``97.5 MB``."""
    if size_mb < 10:
        return f"{size_mb:.2f} MB"
    if size_mb < 1000:
        return f"{size_mb:.1f} MB"
    return f"{size_mb / 1000:.2f} GB"
