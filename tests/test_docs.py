"""The README's pictures: ``docs/make_screenshots.py`` still draws every one of them."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "docs" / "make_screenshots.py"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG file's header."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@pytest.mark.slow  # draws five windows and trains LeNet-5 for eight epochs
def test_the_screenshot_script_writes_every_picture_the_readme_shows(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    shown = set(re.findall(r"docs/screenshots/([\w-]+\.png)", (ROOT / "README.md").read_text()))
    written = {path.name for path in tmp_path.glob("*.png")}
    assert shown and shown <= written, shown - written
    assert png_size(tmp_path / "main-lenet5.png") == (1440, 900)
    assert png_size(tmp_path / "training-features.png") == (1600, 1000)
