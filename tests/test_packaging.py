"""Packaging: the package list names every package and data folder, and the wheel built
from it, installed as a user installs it, starts on the bundled example with its icons."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path
from typing import Any

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


# -- the installed wheel ------------------------------------------------------------------
#: What the wheel is built from (everything pyproject.toml names).
SOURCES = ("pyproject.toml", "README.md", "netbuilder", "resources")
PROBE = Path(__file__).with_name("installed_app_probe.py")


def pip(*args: str | Path, cwd: Path) -> None:
    """Run this interpreter's pip offline; fail with its output if it fails."""
    done = subprocess.run([sys.executable, "-m", "pip", *map(str, args), "--no-index",
                           "--disable-pip-version-check", "-q"],
                          cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def install_wheel(tmp_path: Path) -> Path:
    """Build the wheel from a copy of the sources; install it (not editable) in a folder."""
    source = tmp_path / "source"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", tmp_path / "dist",
        source, cwd=tmp_path)
    wheels = list((tmp_path / "dist").glob("netbuilder-*.whl"))
    assert len(wheels) == 1, wheels
    target = tmp_path / "installed"
    pip("install", "--no-deps", "--target", target, wheels[0], cwd=tmp_path)
    return target


def start_installed_app(target: Path, tmp_path: Path) -> dict[str, Any]:
    """Run ``netbuilder`` from ``target`` in a fresh interpreter; return what it showed.

    ``python -S`` skips site-packages' ``.pth`` files (the editable install of this
    checkout among them); ``PYTHONPATH`` gives the installed copy, then this environment's
    packages (PySide6, torch). The working folder and home are empty temporary folders.
    """
    run, home = tmp_path / "run", tmp_path / "home"
    run.mkdir()
    home.mkdir()
    shutil.copy2(PROBE, run / PROBE.name)
    packages = dict.fromkeys([str(target), sysconfig.get_path("purelib"),
                              sysconfig.get_path("platlib")])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(packages), "HOME": str(home),
           "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"),
           "XDG_CACHE_HOME": str(home / "cache"), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-S", PROBE.name], cwd=run, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    facts: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return facts


def test_the_installed_wheel_opens_on_the_bundled_example_with_its_icons(
        tmp_path: Path) -> None:
    target = install_wheel(tmp_path)
    facts = start_installed_app(target, tmp_path)
    assert Path(facts["netbuilder"]).is_relative_to(target)
    assert str(ROOT) not in facts["sys_path"] and "" not in facts["sys_path"]
    assert facts["exit_status"] == 0

    bundled = target / "netbuilder" / "_resources"
    assert Path(facts["resources_dir"]) == bundled
    assert facts["examples"] == ["lenet5"]
    example = json.loads((bundled / "examples" / "lenet5.nbproj").read_text())
    assert facts["meta"] == example["meta"]  # not the built-in stand-in
    assert facts["window_title"].startswith(example["meta"]["title"])
    assert facts["node_names"] == sorted(node["name"] for node in example["graph"]["nodes"])

    assert facts["app_icon_draws"]
    assert facts["toolbar_icons"] and all(facts["toolbar_icons"].values()), facts
