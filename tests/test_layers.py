"""The layering contract: the core imports neither torch nor Qt; only the UI imports Qt."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is a test dependency"
    done = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_core_and_blocks_import_without_torch_or_qt() -> None:
    code = (
        "import sys\n"
        "from netbuilder.core.registry import default_registry\n"
        "from netbuilder.core.analysis import analyze\n"
        "default_registry()\n"
        "bad = [m for m in ('torch', 'PySide6', 'pyqtgraph') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
