"""The small part of OData `$filter` the lab understands: `field eq 'value'`, `field ne 'value'`
and `startswith(field,'value')`, joined with `and`. Anything else is refused with a clear
message rather than ignored (a filter silently ignored returns the wrong devices)."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from .errors import InvalidRequest

_STRING = r"'((?:[^']|'')*)'"
_COMPARISON = re.compile(rf"^\s*(\w+)\s+(eq|ne)\s+{_STRING}\s*$", re.IGNORECASE)
_STARTSWITH = re.compile(rf"^\s*startswith\(\s*(\w+)\s*,\s*{_STRING}\s*\)\s*$", re.IGNORECASE)
_AND = re.compile(r"\s+and\s+(?=(?:[^']*'[^']*')*[^']*$)", re.IGNORECASE)


@dataclass(frozen=True)
class Clause:
    field: str
    op: str  # "eq" | "ne" | "startswith"
    value: str


def parse_filter(expression: str | None, fields: Collection[str]) -> list[Clause]:
    """The clauses of `expression` (none for an empty filter); field names as Graph spells them,
    matched case-insensitively and returned in `fields`' spelling."""
    if expression is None or not expression.strip():
        return []
    spelled = {name.lower(): name for name in fields}
    clauses: list[Clause] = []
    for part in _AND.split(expression.strip()):
        match = _COMPARISON.match(part)
        if match:
            name, op, value = match.group(1), match.group(2).lower(), match.group(3)
        elif match := _STARTSWITH.match(part):
            name, op, value = match.group(1), "startswith", match.group(2)
        else:
            raise InvalidRequest(
                f"Invalid filter clause '{part.strip()}': the lab supports "
                "\"field eq 'value'\", \"field ne 'value'\" and \"startswith(field,'value')\""
            )
        if name.lower() not in spelled:
            raise InvalidRequest(
                f"Could not filter on property '{name}': filterable are {', '.join(fields)}"
            )
        clauses.append(Clause(spelled[name.lower()], op, value.replace("''", "'")))
    return clauses
