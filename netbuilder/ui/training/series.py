"""The data behind a learning curve: a growing pair of arrays and the smoothing.

Kept apart from the plots (:mod:`netbuilder.ui.training.curves`): nothing here draws.
"""

from __future__ import annotations

import math

import numpy as np

#: Weight of the moving average of the smoothed training curves.
DEFAULT_SMOOTHING = 0.9


class Series:
    """A growing pair of float arrays (capacity doubles: appending is amortised O(1))."""

    def __init__(self, capacity: int = 1024) -> None:
        self._x = np.empty(capacity)
        self._y = np.empty(capacity)
        self.size = 0

    def extend(self, x: np.ndarray, y: np.ndarray) -> None:
        """Append points."""
        end = self.size + len(x)
        if end > len(self._x):
            capacity = max(end, 2 * len(self._x))
            self._x = np.resize(self._x, capacity)
            self._y = np.resize(self._y, capacity)
        self._x[self.size:end] = x
        self._y[self.size:end] = y
        self.size = end

    @property
    def x(self) -> np.ndarray:
        """The x values (a view)."""
        return self._x[:self.size]

    @property
    def y(self) -> np.ndarray:
        """The y values (a view)."""
        return self._y[:self.size]

    def clear(self) -> None:
        """Forget every point."""
        self.size = 0


class Smoother:
    """Exponential moving average with bias correction (as TensorBoard smooths)."""

    def __init__(self, weight: float = DEFAULT_SMOOTHING) -> None:
        self.weight = weight
        self.reset()

    def reset(self) -> None:
        """Start again."""
        self._value = 0.0
        self._count = 0

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Smoothed values of ``values`` (continuing the average)."""
        out = np.empty(len(values))
        weight, value, count = self.weight, self._value, self._count
        for k, v in enumerate(values.tolist()):
            if math.isfinite(v):
                value = weight * value + (1 - weight) * v
                count += 1
            out[k] = value / (1 - weight ** count) if count else math.nan
        self._value, self._count = value, count
        return out
