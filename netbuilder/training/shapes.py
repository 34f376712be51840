"""A procedural data set: coloured shapes on noisy backgrounds, at any resolution.

Each image holds one shape — circle, square, triangle, cross, ring, diamond, star or
hexagon — of a random colour, size and position, slightly rotated, on a darker random
background with a little noise. Shapes are drawn from signed distance functions with a
one-pixel soft edge, so they look the same at 8×8 and at 224×224. The set is a pure
function of its seed: the same seed gives the same images on every machine.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

#: Class names, in label order; a set of N classes uses the first N.
SHAPE_NAMES = ("circle", "square", "triangle", "cross", "ring", "diamond", "star", "hexagon")


def make_shapes(count: int, size: tuple[int, int], classes: int = 4, seed: int = 0,
                chunk: int = 512) -> tuple[Tensor, Tensor]:
    """Draw ``count`` RGB images of ``size`` (H, W) with balanced, shuffled labels.

    Args:
        count: Number of images.
        size: Height and width in pixels.
        classes: Number of shape kinds (2 to 8), the first of :data:`SHAPE_NAMES`.
        seed: Everything random comes from a generator seeded with it.
        chunk: Images drawn at a time (bounds the memory used while drawing).

    Returns:
        ``uint8`` images ``(count, 3, H, W)`` and ``int64`` labels ``(count,)``.
    """
    if not 2 <= classes <= len(SHAPE_NAMES):
        raise ValueError(f"classes must be 2 to {len(SHAPE_NAMES)}, got {classes}")
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % classes
    labels = labels[torch.randperm(count, generator=generator)]
    images = torch.empty((count, 3, *size), dtype=torch.uint8)
    for start in range(0, count, chunk):
        part = labels[start:start + chunk]
        images[start:start + chunk] = _draw(part, size, generator)
    return images, labels


def _draw(labels: Tensor, size: tuple[int, int], generator: torch.Generator) -> Tensor:
    n = len(labels)
    height, width = size
    rand = _Random(generator, n)
    radius = rand.uniform(0.45, 0.75)
    centre = rand.uniform(-1, 1, 2) * (0.9 - radius)[:, None]
    angle = rand.uniform(-0.3, 0.3)
    ys = torch.linspace(-1, 1, height).view(1, height, 1)
    xs = torch.linspace(-1, 1, width).view(1, 1, width)
    dx = xs - centre[:, 0].view(n, 1, 1)
    dy = ys - centre[:, 1].view(n, 1, 1)
    cos, sin = torch.cos(angle).view(n, 1, 1), torch.sin(angle).view(n, 1, 1)
    x, y = cos * dx + sin * dy, -sin * dx + cos * dy
    r = radius.view(n, 1, 1)
    distance = torch.empty(n, height, width)
    for kind, sdf in enumerate(_SDFS[:int(labels.max()) + 1]):
        mask = labels == kind
        if mask.any():
            distance[mask] = sdf(x[mask], y[mask], r[mask])
    pixel = 2.0 / min(height, width)
    alpha = (0.5 - distance / pixel).clamp(0, 1).unsqueeze(1)
    foreground = rand.uniform(0.45, 1.0, 3).view(n, 3, 1, 1)
    background = rand.uniform(0.0, 0.35, 3).view(n, 3, 1, 1)
    noise = 0.04 * torch.randn(n, 3, height, width, generator=rand.generator)
    image = background * (1 - alpha) + foreground * alpha + noise
    return (image.clamp(0, 1) * 255).round().to(torch.uint8)


class _Random:
    """Uniform draws of ``n`` values (or ``n``×``k``) from one generator."""

    def __init__(self, generator: torch.Generator, n: int) -> None:
        self.generator = generator
        self.n = n

    def uniform(self, low: float, high: float, k: int = 0) -> Tensor:
        shape = (self.n, k) if k else (self.n,)
        return low + (high - low) * torch.rand(shape, generator=self.generator)


def _circle(x: Tensor, y: Tensor, r: Tensor) -> Tensor:
    return torch.sqrt(x * x + y * y) - r


def _square(x: Tensor, y: Tensor, r: Tensor) -> Tensor:
    return torch.maximum(x.abs(), y.abs()) - 0.8 * r


def _triangle(x: Tensor, y: Tensor, r: Tensor) -> Tensor:
    return _polygon(x, y + 0.2 * r, 0.5 * r, 3, -math.pi / 2)


def _cross(x: Tensor, y: Tensor, r: Tensor) -> Tensor:
    bar = 0.28 * r
    vertical = torch.maximum(x.abs() - bar, y.abs() - r)
    horizontal = torch.maximum(y.abs() - bar, x.abs() - r)
    return torch.minimum(vertical, horizontal)


def _ring(x: Tensor, y: Tensor, r: Tensor) -> Tensor:
    return (torch.sqrt(x * x + y * y) - 0.72 * r).abs() - 0.28 * r


def _diamond(x: Tensor, y: Tensor, r: Tensor) -> Tensor:
    return (x.abs() + y.abs() - r) / math.sqrt(2)


def _star(x: Tensor, y: Tensor, r: Tensor) -> Tensor:
    theta = torch.atan2(y, x) + math.pi / 2
    return torch.sqrt(x * x + y * y) - r * (0.68 + 0.32 * torch.cos(5 * theta))


def _hexagon(x: Tensor, y: Tensor, r: Tensor) -> Tensor:
    return _polygon(x, y, 0.85 * r, 6, 0.0)


def _polygon(x: Tensor, y: Tensor, inradius: Tensor, sides: int, phase: float) -> Tensor:
    """Distance (approximate outside the corners) to a regular polygon."""
    out = None
    for k in range(sides):
        angle = phase + 2 * math.pi * k / sides
        d = x * math.cos(angle) + y * math.sin(angle) - inradius
        out = d if out is None else torch.maximum(out, d)
    assert out is not None
    return out


_SDFS = (_circle, _square, _triangle, _cross, _ring, _diamond, _star, _hexagon)
