"""Data augmentation on batches of tensors, on the device that trains.

The recipes of the course, vectorised over the batch (one random draw per image, no
Python loop over images): random crop with padding, random resized crop, horizontal
flip, colour jitter and AlexNet's PCA lighting. Batches arrive normalised with the data
set's mean and standard deviation; crops pad with black and the colour changes work in
pixel values (0..1), so the results match what torchvision's transforms would give on
the raw images.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from netbuilder.training.config import AugmentConfig

#: Luminance weights of RGB (ITU-R 601-2, as torchvision's ``rgb_to_grayscale``).
LUMA = (0.299, 0.587, 0.114)


class Augmenter:
    """Applies an :class:`AugmentConfig` to normalised batches ``(N, C, H, W)``.

    Attributes:
        config: The augmentation settings.
        generator: The random generator (on the batches' device); its state goes into
            checkpoints so that a resumed run draws the same augmentations.
    """

    def __init__(self, config: AugmentConfig, mean: Tensor, std: Tensor,
                 eigval: Tensor | None = None, eigvec: Tensor | None = None, *,
                 seed: int = 0, device: torch.device | str = "cpu") -> None:
        """Prepare the augmentations.

        Args:
            config: What to apply.
            mean: Per-channel mean the batches were normalised with.
            std: Per-channel standard deviation the batches were normalised with.
            eigval: Eigenvalues of the data set's colour covariance (for lighting).
            eigvec: Eigenvectors (columns) of the colour covariance (for lighting).
            seed: Seed of the generator.
            device: Where the batches live.
        """
        self.config = config
        self.device = torch.device(device)
        channels = len(mean)
        self.mean = mean.to(self.device, torch.float32).view(1, channels, 1, 1)
        self.std = std.to(self.device, torch.float32).view(1, channels, 1, 1)
        self.eigval = (eigval if eigval is not None else torch.ones(channels)).to(self.device)
        self.eigvec = (eigvec if eigvec is not None else torch.eye(channels)).to(self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    @property
    def enabled(self) -> bool:
        """Whether anything is applied."""
        return self.config.enabled

    def __call__(self, x: Tensor) -> Tensor:
        """An augmented copy of the normalised batch ``x``."""
        config = self.config
        if config.random_resized_crop:
            x = self.resized_crop(x)
        if config.random_crop and config.crop_padding > 0:
            x = self.padded_crop(x)
        if config.horizontal_flip:
            x = self.flip(x)
        if config.color_jitter > 0 or config.lighting > 0:
            x = self._colour(x)
        return x

    # -- random draws ---------------------------------------------------------------------
    def _uniform(self, n: int, low: float, high: float) -> Tensor:
        return low + (high - low) * torch.rand(n, device=self.device, generator=self.generator)

    # -- geometry -------------------------------------------------------------------------
    def flip(self, x: Tensor) -> Tensor:
        """Mirror each image left to right with probability ½."""
        mask = torch.rand(len(x), device=self.device, generator=self.generator) < 0.5
        return torch.where(mask.view(-1, 1, 1, 1), x.flip(3), x)

    def padded_crop(self, x: Tensor) -> Tensor:
        """Pad with black by ``crop_padding`` and crop back at a random offset per image."""
        n, c, h, w = x.shape
        pad = self.config.crop_padding
        black = (-self.mean / self.std).to(x.dtype)
        padded = black.expand(n, c, h + 2 * pad, w + 2 * pad).clone()
        padded[:, :, pad:pad + h, pad:pad + w] = x
        top = torch.randint(0, 2 * pad + 1, (n,), device=self.device, generator=self.generator)
        left = torch.randint(0, 2 * pad + 1, (n,), device=self.device,
                             generator=self.generator)
        rows = (top.view(n, 1) + torch.arange(h, device=self.device)).view(n, 1, h, 1)
        cols = (left.view(n, 1) + torch.arange(w, device=self.device)).view(n, 1, 1, w)
        batch = torch.arange(n, device=self.device).view(n, 1, 1, 1)
        channel = torch.arange(c, device=self.device).view(1, c, 1, 1)
        return padded[batch, channel, rows, cols]

    def resized_crop(self, x: Tensor) -> Tensor:
        """Crop a random area and aspect ratio per image and resize it to the full size."""
        n = len(x)
        low, high = self.config.crop_scale
        area = self._uniform(n, low, high)
        log_ratio = self._uniform(n, math.log(self.config.crop_ratio[0]),
                                  math.log(self.config.crop_ratio[1]))
        ratio = torch.exp(log_ratio)
        width = torch.sqrt(area * ratio).clamp(max=1.0)
        height = torch.sqrt(area / ratio).clamp(max=1.0)
        cx = (2 * self._uniform(n, 0, 1) - 1) * (1 - width)
        cy = (2 * self._uniform(n, 0, 1) - 1) * (1 - height)
        theta = torch.zeros(n, 2, 3, device=self.device, dtype=x.dtype)
        theta[:, 0, 0], theta[:, 0, 2] = width, cx
        theta[:, 1, 1], theta[:, 1, 2] = height, cy
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border",
                             align_corners=False)

    # -- colour ---------------------------------------------------------------------------
    def _colour(self, x: Tensor) -> Tensor:
        pixels = x * self.std + self.mean
        if self.config.color_jitter > 0:
            pixels = self.jitter(pixels)
        if self.config.lighting > 0:
            pixels = self.lighting(pixels)
        return (pixels - self.mean) / self.std

    def jitter(self, pixels: Tensor) -> Tensor:
        """Random brightness, contrast and (RGB) saturation, in pixel values 0..1."""
        n, c = pixels.shape[:2]
        strength = self.config.color_jitter
        brightness = self._uniform(n, 1 - strength, 1 + strength).view(n, 1, 1, 1)
        pixels = (pixels * brightness).clamp(0, 1)
        grey = _grey(pixels)
        contrast = self._uniform(n, 1 - strength, 1 + strength).view(n, 1, 1, 1)
        level = grey.mean(dim=(1, 2, 3), keepdim=True)
        pixels = ((pixels - level) * contrast + level).clamp(0, 1)
        if c == 3:
            saturation = self._uniform(n, 1 - strength, 1 + strength).view(n, 1, 1, 1)
            grey = _grey(pixels)
            pixels = ((pixels - grey) * saturation + grey).clamp(0, 1)
        return pixels

    def lighting(self, pixels: Tensor) -> Tensor:
        """AlexNet's lighting noise: add ``eigvec @ (alpha · eigval)``, alpha ~ N(0, σ²)."""
        n, c = pixels.shape[:2]
        alpha = torch.randn(n, c, device=self.device, generator=self.generator)
        alpha = alpha * self.config.lighting
        shift = (alpha * self.eigval.view(1, c)) @ self.eigvec.T
        return pixels + shift.view(n, c, 1, 1).to(pixels.dtype)

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The generator's state."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the generator's state."""
        self.generator.set_state(state["generator"].cpu())


def _grey(pixels: Tensor) -> Tensor:
    if pixels.shape[1] != 3:
        return pixels.mean(dim=1, keepdim=True)
    r, g, b = pixels.unbind(1)
    return (LUMA[0] * r + LUMA[1] * g + LUMA[2] * b).unsqueeze(1)


def colour_pca(images: Tensor, limit: int = 200_000, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Eigenvalues and eigenvectors of the colour covariance of ``images`` (values 0..1).

    AlexNet computed them over the ImageNet training set; here over up to ``limit``
    pixels of the data set, drawn at random (deterministically).

    Returns:
        ``eigval`` ``(C,)`` (variances along the components, as AlexNet's λ) and
        ``eigvec`` ``(C, C)`` with the components as columns.
    """
    c = images.shape[1]
    pixels = images.transpose(0, 1).reshape(c, -1)
    if pixels.shape[1] > limit:
        generator = torch.Generator().manual_seed(seed)
        pick = torch.randint(0, pixels.shape[1], (limit,), generator=generator)
        pixels = pixels[:, pick]
    pixels = pixels.double()
    centred = pixels - pixels.mean(dim=1, keepdim=True)
    covariance = centred @ centred.T / max(pixels.shape[1] - 1, 1)
    eigval, eigvec = torch.linalg.eigh(covariance)
    return eigval.clamp(min=0).float(), eigvec.float()
