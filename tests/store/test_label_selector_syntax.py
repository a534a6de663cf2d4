"""The Kubernetes label selector syntax, and errors that point at the mistake."""

from __future__ import annotations

import pytest

from clusterlink.store import BadRequestError, parse_label_selector
from clusterlink.store.label_selectors import Requirement


@pytest.mark.parametrize(
    ("text", "requirements"),
    [
        ("", ()),
        ("a=b", (Requirement("a", "=", ("b",)),)),
        ("a == b", (Requirement("a", "=", ("b",)),)),
        ("a!=b", (Requirement("a", "!=", ("b",)),)),
        ("a=", (Requirement("a", "=", ("",)),)),
        ("x in (b, c)", (Requirement("x", "in", ("b", "c")),)),
        ("x notin (b)", (Requirement("x", "notin", ("b",)),)),
        ("kosmos.io/exclude", (Requirement("kosmos.io/exclude", "exists"),)),
        ("!kosmos.io/exclude", (Requirement("kosmos.io/exclude", "!"),)),
        (
            "a=b, !c, d in (e)",
            (
                Requirement("a", "=", ("b",)),
                Requirement("c", "!"),
                Requirement("d", "in", ("e",)),
            ),
        ),
    ],
)
def test_valid_selectors_parse_into_requirements(
    text: str, requirements: tuple[Requirement, ...]
) -> None:
    assert parse_label_selector(text).requirements == requirements


@pytest.mark.parametrize(
    ("text", "position", "complaint"),
    [
        ("a in (b", 7, "expected ',' or ')'"),
        ("a in ()", 6, "expected a label value"),
        ("a=b,", 4, "expected a label key"),
        ("a b", 2, "expected one of"),
        ("=b", 0, "expected a label key"),
        ("a notin b", 8, "expected '('"),
        ("-a=b", 0, "label key name"),
        ("a=b c", 4, "expected ','"),
        ("!a=b", 2, "expected ','"),
        ("a=" + "v" * 64, 2, "label value"),
    ],
)
def test_malformed_selectors_fail_naming_the_position(
    text: str, position: int, complaint: str
) -> None:
    with pytest.raises(BadRequestError) as raised:
        parse_label_selector(text)

    assert raised.value.position == position
    assert complaint in str(raised.value)
    assert repr(text) in str(raised.value)


def test_a_selector_prints_in_canonical_form() -> None:
    assert str(parse_label_selector("a == b,  c in (d,e),!f")) == "a=b,c in (d,e),!f"
