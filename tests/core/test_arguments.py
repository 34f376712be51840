"""The shared ``argparse`` argument types."""

from __future__ import annotations

import argparse

import pytest

from netbuilder.core.arguments import positive_int


@pytest.mark.parametrize("text, value", [("1", 1), ("16", 16), (" 8 ", 8)])
def test_positive_int_reads_counts(text: str, value: int) -> None:
    assert positive_int(text) == value


@pytest.mark.parametrize("text, why", [
    ("0", "'0': give at least 1"),
    ("-3", "'-3': give at least 1"),
    ("2.5", "'2.5' is not a whole number"),
    ("many", "'many' is not a whole number"),
])
def test_positive_int_names_the_text_it_refuses(text: str, why: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=why):
        positive_int(text)


def test_every_cli_count_refuses_zero_in_one_usage_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    from netbuilder.cli import main

    for argv in (["summary", "lenet5", "--batch", "0"], ["profile", "lenet5", "--steps", "0"],
                 ["export", "lenet5", "out.onnx", "--opset", "0"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "'0': give at least 1" in err and "Traceback" not in err
