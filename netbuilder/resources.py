"""Bundled data files (example projects, icons, themes), found wherever NetBuilder runs.

In an installed package the files live in ``netbuilder/_resources/``; in a source checkout
they live in ``resources/`` beside the package. :func:`resources_dir` looks in that order,
so code never needs to know which case it is in.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

#: Folder of the package that holds the data in an installed copy.
INSTALLED = "_resources"
#: Suffix of project files.
PROJECT_SUFFIX = ".nbproj"


def resources_dir() -> Path:
    """The folder holding the bundled data.

    Raises:
        FileNotFoundError: when neither an installed nor a checkout copy exists.
    """
    installed = Path(str(files("netbuilder").joinpath(INSTALLED)))
    if installed.is_dir():
        return installed
    checkout = Path(__file__).resolve().parent.parent / "resources"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"NetBuilder's data files are missing (looked in {installed} "
                            f"and {checkout})")


def resource_path(*parts: str) -> Path:
    """The path of a bundled file, e.g. ``resource_path("examples", "lenet5.nbproj")``.

    Raises:
        FileNotFoundError: when there is no such file.
    """
    path = resources_dir().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"no bundled file {'/'.join(parts)}")
    return path


def examples() -> dict[str, Path]:
    """Bundled example projects by name (file name without ``.nbproj``), sorted."""
    folder = resources_dir() / "examples"
    return {p.stem: p for p in sorted(folder.glob(f"*{PROJECT_SUFFIX}"))}


def example_path(name: str) -> Path:
    """The file of the bundled example ``name`` (``lenet5``).

    Raises:
        FileNotFoundError: when no example has that name.
    """
    found = examples()
    if name not in found:
        raise FileNotFoundError(
            f"no example named {name!r} (there are: {', '.join(found) or 'none'})")
    return found[name]
