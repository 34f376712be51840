"""Fixtures of the sweep tests: a small project on the digits, its space, a study."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netbuilder.core.graph import Graph
from netbuilder.core.serialize import Project, save


def small_graph(width: int = 8) -> Graph:
    """A small convolutional network for the 8×8 digits."""
    graph = Graph()
    graph.chain(("input", "input", {"shape": [1, 8, 8]}),
                ("conv2d", "c1", {"out_channels": width, "kernel_size": 3, "padding": 1}),
                ("relu", "act1"), ("batchnorm2d", "bn1"),
                ("maxpool2d", "s2", {"kernel_size": 2, "stride": 2}),
                ("flatten", "flatten"), ("linear", "f3", {"out_features": 10}),
                ("output", "output"))
    return graph


def write_project(folder: Path, epochs: int = 2) -> Path:
    """A project file of :func:`small_graph` that trains on the digits."""
    training = {"dataset": "digits", "epochs": epochs, "batch_size": 64, "val_split": 0.2,
                "seed": 0, "device": "cpu"}
    path = folder / "small.nbproj"
    save(Project(small_graph(), training, {"title": "Small"}), path)
    return path


def write_space(folder: Path, data: dict[str, Any], name: str = "space.json") -> Path:
    """The space ``data`` as a JSON file."""
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def project_file(tmp_path: Path) -> Path:
    """A small project on the digits, two epochs."""
    return write_project(tmp_path)
