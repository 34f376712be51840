"""The device check script (``bench/check_device.py``) runs its checks on the CPU."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "check_device.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_device", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # real training runs, one per device path
def test_every_check_but_the_gpu_only_ones_passes_on_the_cpu(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert load_script().main(["--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[1:-1]] == ["ok"] * 5
    assert "forward in torch.bfloat16" in lines[2] and "forward in torch.float16" in lines[3]
    assert "pageable batches" in lines[5]
    assert lines[-1] == "5 of 5 checks passed"


@pytest.mark.slow  # real training runs, one per device path
def test_a_failing_check_is_reported_and_sets_the_exit_status(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    script = load_script()
    # A learning rate too small to learn anything in two epochs.
    monkeypatch.setattr(script, "BASE", {**script.BASE, "epochs": 2, "lr": 1e-12})
    assert script.main(["--device", "cpu"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  in memory" in out
    assert "the loss did not fall" in out or "validation accuracy" in out
    assert out.splitlines()[-1] == "0 of 5 checks passed"
