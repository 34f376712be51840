"""The package list in pyproject.toml names every package and data folder."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_and_resource_folder_is_packaged() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "netbuilder").rglob("__init__.py")}
    found |= {"netbuilder._resources" + "".join(f".{part}" for part in d.relative_to(
        ROOT / "resources").parts) for d in [ROOT / "resources", *(ROOT / "resources").rglob("*")]
        if d.is_dir() and any(f.is_file() for f in d.iterdir())}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert config["package-dir"] == {"netbuilder._resources": "resources"}


def test_desktop_entry_and_icon_exist() -> None:
    entry = (ROOT / "packaging" / "netbuilder.desktop").read_text()
    assert "Exec=netbuilder" in entry and "Icon=netbuilder" in entry
    assert (ROOT / "packaging" / "netbuilder.svg").read_text().lstrip().startswith("<?xml")
