"""Shape text: every spelling the CLI, the import dialog, templates and the inspector take."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netbuilder.core.shapes import MAX_RANK, format_shape, parse_shape

shapes = st.lists(st.integers(1, 100_000), min_size=1, max_size=MAX_RANK).map(tuple)
separators = st.sampled_from([",", ", ", " , ", "x", "X", "×", " × ", "*", " ", "\t"])
brackets = st.sampled_from([("", ""), ("(", ")"), ("[", "]"), ("(", ""), (" ( ", ",) ")])


@given(shapes)
def test_a_formatted_shape_parses_back(shape: tuple[int, ...]) -> None:
    assert parse_shape(format_shape(shape)) == shape


@given(shapes, separators, brackets)
def test_every_spelling_parses_to_the_same_shape(
        shape: tuple[int, ...], separator: str, bracket: tuple[str, str]) -> None:
    text = bracket[0] + separator.join(str(d) for d in shape) + bracket[1]
    parsed = parse_shape(text)
    assert parsed == shape
    assert format_shape(parsed) == "×".join(str(d) for d in shape)


@pytest.mark.parametrize("text", [
    "3,224,224", "3x224x224", "3×224×224", "(3, 224, 224)", "[3, 224, 224]",
    " 3 224 224 ", "3, 224, 224,", "3*224*224", "3X224X224", "3,,224,224", "(3, 224, 224",
])
def test_the_spellings_each_former_parser_took(text: str) -> None:
    assert parse_shape(text) == (3, 224, 224)


def test_one_size_and_a_python_one_tuple() -> None:
    assert parse_shape("10") == parse_shape("(10,)") == (10,)


@pytest.mark.parametrize(("text", "message"), [
    ("", "has no sizes"),
    ("( )", "has no sizes"),
    ("3,a", "'a' is not a whole number"),
    ("3.5x2", "'3.5' is not a whole number"),
    ("3,0,5", "at least 1, got 0"),
    ("-3,5", "at least 1, got -3"),
    ("1,2,3,4,5", "has 5 sizes: a shape has 1 to 4"),
])
def test_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_shape(text)


def test_an_unknown_shape_is_a_question_mark() -> None:
    assert format_shape(None) == "?"
