"""Test-wide set-up: Qt renders offscreen; hypothesis profiles for CI and local runs."""

from __future__ import annotations

import os

import torch
from hypothesis import settings

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

settings.register_profile("ci", deadline=None, print_blob=True)
settings.register_profile("default", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "default")

# One torch thread: the CI machine has two cores, and tests (pytest-qt's event loop,
# hypothesis, several torch models) compete for them; more threads only add contention.
torch.set_num_threads(1)
