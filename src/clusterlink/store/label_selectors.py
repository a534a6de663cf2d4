"""Kubernetes label selectors: parsing the text form and matching label sets.

Components select objects the way ``kubectl -l`` does (``kosmos.io/cluster=cluster-a``,
``role in (gateway,node)``, ``!kosmos.io/exclude``); both backends must agree on the
syntax, and a typo must fail loudly with its position instead of silently matching nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from clusterlink.store.errors import BadRequestError

Operator = Literal["=", "!=", "in", "notin", "exists", "!"]

_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAME_MAX = 63
_PREFIX_MAX = 253


def label_key_problem(key: str) -> str | None:
    """Why ``key`` is not a valid label key (``[prefix/]name``), or None when it is."""
    prefix, _, name = key.rpartition("/")
    if "/" in key and not prefix:
        return f"label key {key!r} has an empty prefix"
    if prefix and (len(prefix) > _PREFIX_MAX or not _DNS_SUBDOMAIN.match(prefix)):
        return f"label key prefix {prefix!r} must be a DNS subdomain of at most 253 characters"
    if len(name) > _NAME_MAX or not _NAME.match(name):
        return (
            f"label key name {name!r} must be 1-63 alphanumeric characters, '-', '_' or '.', "
            "starting and ending with an alphanumeric character"
        )
    return None


def label_value_problem(value: str) -> str | None:
    """Why ``value`` is not a valid label value, or None when it is (empty is valid)."""
    if value and (len(value) > _NAME_MAX or not _NAME.match(value)):
        return (
            f"label value {value!r} must be at most 63 alphanumeric characters, '-', '_' or "
            "'.', starting and ending with an alphanumeric character"
        )
    return None


@dataclass(frozen=True, slots=True)
class Requirement:
    """One clause of a selector, such as ``tier in (a,b)``."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        match self.operator:
            case "=" | "in":
                return present and value in self.values
            case "!=" | "notin":
                return not present or value not in self.values
            case "exists":
                return present
            case "!":
                return not present

    def __str__(self) -> str:
        match self.operator:
            case "=" | "!=":
                return f"{self.key}{self.operator}{self.values[0]}"
            case "in" | "notin":
                return f"{self.key} {self.operator} ({','.join(self.values)})"
            case "exists":
                return self.key
            case "!":
                return f"!{self.key}"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """All requirements must match; the empty selector matches every object."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(requirement.matches(labels) for requirement in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    position: int
    is_word: bool


_PUNCTUATION = ("!=", "==", "=", "!", "(", ")", ",")
_WORD_END = re.compile(r"[\s,()=!]")


def _tokens(text: str) -> Iterator[_Token]:
    position = 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        mark = next((p for p in _PUNCTUATION if text.startswith(p, position)), None)
        if mark is not None:
            yield _Token(mark, position, is_word=False)
            position += len(mark)
            continue
        end = _WORD_END.search(text, position)
        stop = end.start() if end else len(text)
        yield _Token(text[position:stop], position, is_word=True)
        position = stop


class _Parser:
    """Recursive-descent parser of the grammar in the Kubernetes ``labels`` package."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = list(_tokens(text))
        self.index = 0

    def fail(self, message: str, token: _Token | None) -> BadRequestError:
        position = token.position if token else len(self.text)
        where = f"at position {position}" if token else "at the end"
        return BadRequestError(
            f"invalid label selector {self.text!r} {where}: {message}",
            selector=self.text,
            position=position,
        )

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token | None:
        token = self.peek()
        self.index += 1
        return token

    def word(self, what: str) -> _Token:
        token = self.take()
        if token is None or not token.is_word:
            found = f"found {token.text!r}" if token else "found nothing"
            raise self.fail(f"expected {what}, {found}", token)
        return token

    def selector(self) -> LabelSelector:
        requirements: list[Requirement] = []
        if self.peek() is None:
            return LabelSelector()
        while True:
            requirements.append(self.requirement())
            token = self.take()
            if token is None:
                return LabelSelector(tuple(requirements))
            if token.text != ",":
                raise self.fail(f"expected ',' between requirements, found {token.text!r}", token)

    def requirement(self) -> Requirement:
        first = self.peek()
        negated = first is not None and first.text == "!" and not first.is_word
        if negated:
            self.take()
        key_token = self.word("a label key")
        problem = label_key_problem(key_token.text)
        if problem:
            raise self.fail(problem, key_token)
        following = self.peek()
        if negated or following is None or following.text == ",":
            return Requirement(key_token.text, "!" if negated else "exists")
        operator = following
        self.take()
        if operator.text in ("=", "==", "!="):
            return Requirement(
                key_token.text, "!=" if operator.text == "!=" else "=", (self.exact_value(),)
            )
        if operator.is_word and operator.text in ("in", "notin"):
            values = self.value_set()
            return Requirement(key_token.text, "in" if operator.text == "in" else "notin", values)
        raise self.fail(
            f"expected one of '=', '==', '!=', 'in', 'notin' after {key_token.text!r}, "
            f"found {operator.text!r}",
            operator,
        )

    def exact_value(self) -> str:
        token = self.peek()
        if token is None or token.text == ",":
            return ""
        value = self.word("a label value")
        self.check_value(value)
        return value.text

    def value_set(self) -> tuple[str, ...]:
        opening = self.take()
        if opening is None or opening.text != "(":
            raise self.fail("expected '(' to open a value set", opening)
        values: list[str] = []
        while True:
            value = self.word("a label value")
            self.check_value(value)
            values.append(value.text)
            token = self.take()
            if token is not None and token.text == ")":
                return tuple(values)
            if token is None or token.text != ",":
                raise self.fail("expected ',' or ')' in a value set", token)

    def check_value(self, token: _Token) -> None:
        problem = label_value_problem(token.text)
        if problem:
            raise self.fail(problem, token)


def parse_label_selector(text: str) -> LabelSelector:
    """Parse ``a=b,c!=d,e in (f,g),h notin (i),j,!k``; raises BadRequestError if malformed."""
    return _Parser(text).selector()
