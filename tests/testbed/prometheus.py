"""A strict reader of Prometheus' text format 0.0.4, enough to check what ``GET /metrics`` writes.

Every sample must belong to a family announced by ``# HELP`` and ``# TYPE`` lines before it (a
histogram's ``_bucket``, ``_sum`` and ``_count``), label values must be quoted and escaped, values must be
floats; a histogram's buckets must be cumulative and end with ``+Inf`` equal to ``_count``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE = re.compile(rf"^({NAME})(?:\{{(.*)\}})? (\S+)$")
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


@dataclass
class Family:
    name: str
    help: str = ""
    type: str = ""
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", '"': '"'}[m.group(1)], value)


def _labels(text: str) -> tuple[tuple[str, str], ...]:
    labels, pos = [], 0
    while pos < len(text):
        found = LABEL.match(text, pos)
        assert found, f"bad labels: {text!r}"
        labels.append((found.group(1), _unescape(found.group(2))))
        pos = found.end()
    names = [k for k, _ in labels]
    assert len(names) == len(set(names)), f"a label twice: {text!r}"
    return tuple(sorted(labels))


def parse(text: str) -> dict[str, Family]:
    assert text.endswith("\n"), "the exposition ends with a line feed"
    families: dict[str, Family] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            _, kind, name, *rest = line.split(" ", 3)
            assert re.fullmatch(NAME, name), line
            family = families.setdefault(name, Family(name))
            if kind == "HELP":
                assert not family.help and rest, f"HELP twice or empty: {line}"
                family.help = rest[0]
            else:
                assert not family.type and not family.samples, f"TYPE twice or after samples: {line}"
                assert rest and rest[0] in TYPES, line
                family.type = rest[0]
            continue
        assert not line.startswith("#"), f"unknown comment: {line}"
        found = SAMPLE.match(line)
        assert found, f"bad sample line: {line!r}"
        name, labels, value = found.group(1), _labels(found.group(2) or ""), found.group(3)
        owner = name if name in families else re.sub(r"_(bucket|sum|count)$", "", name)
        assert owner in families, f"sample before its HELP/TYPE: {line}"
        family = families[owner]
        assert family.type and family.help, f"sample of a family without TYPE/HELP: {line}"
        assert owner == name or family.type in ("histogram", "summary"), line
        assert (name, labels) not in family.samples, f"sample twice: {line}"
        family.samples[(name, labels)] = float(value.replace("+Inf", "inf"))
    for family in families.values():
        if family.type == "histogram":
            _check_histogram(family)
    return families


def _check_histogram(family: Family) -> None:
    buckets = sorted(
        (float(dict(labels)["le"].replace("+Inf", "inf")), value)
        for (name, labels), value in family.samples.items()
        if name.endswith("_bucket")
    )
    assert buckets and math.isinf(buckets[-1][0]), f"{family.name}: no +Inf bucket"
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), f"{family.name}: buckets not cumulative"
    assert counts[-1] == family.samples[(family.name + "_count", ())], f"{family.name}: +Inf != _count"


def value(families: dict[str, Family], name: str, **labels: str) -> float:
    """One sample's value (0 when the family is there and the labelled sample is not)."""
    owner = name if name in families else re.sub(r"_(bucket|sum|count)$", "", name)
    assert owner in families, f"no family {owner}: {sorted(families)}"
    return families[owner].samples.get((name, tuple(sorted(labels.items()))), 0.0)
