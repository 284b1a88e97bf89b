"""What one GraphQL request asks for: API version, operation kind, root field, arguments.

The simulator is not a GraphQL engine: an operation is recognised by its root field (the first
field in the selection, found with a regex) and arguments are read from `variables` or from
simple JSON-compatible literals.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from stocksync.simulators.shopify_state import JsonObject

Version = tuple[int, int]
OLDEST_VERSION: Version = (2025, 1)
NEWEST_VERSION: Version = (2026, 10)
UNSTABLE: Version = (9999, 12)
CHANGE_FROM_ADDED: Version = (2026, 1)  # changeFromQuantity + @idempotent become available
CONCURRENCY_REQUIRED: Version = (2026, 4)  # both mandatory; compareQuantity removed

MAX_INPUT_ARRAY = 250  # every input array (shopify.md §2, "Reading levels for many items")

_COMMENT = re.compile(r"#[^\n]*")
_ROOT = re.compile(r"^\s*(query|mutation)?\s*(\w+)?[^{]*\{\s*(?:(\w+)\s*:\s*)?(\w+)", re.S)
VALUE_PATTERN = r'(\$\w+|"(?:[^"\\]|\\.)*"|-?\d+|\[[^\]]*\]|null|true|false)'
MISSING = object()


class GraphQLFailure(Exception):
    """Top-level GraphQL `errors` (validation or runtime), as opposed to `userErrors`."""

    def __init__(self, message: str, code: str, *, path: list[str] | None = None,
                 data: JsonObject | None = None) -> None:
        super().__init__(message)
        error: JsonObject = {"message": message, "extensions": {"code": code}}
        if path:
            error["path"] = path
        self.errors = [error]
        self.code = code
        self.data = data


@dataclass(slots=True)
class Operation:
    kind: str
    name: str | None
    root_field: str
    response_key: str
    query: str
    variables: JsonObject
    version: Version


@dataclass(slots=True)
class Executed:
    data: object
    actual_cost: int
    codes: list[str] = field(default_factory=list)
    idempotency_key: str | None = None
    replayed: bool = False


def parse_api_version(label: str) -> Version | None:
    if label == "unstable":
        return UNSTABLE
    match = re.fullmatch(r"(\d{4})-(01|04|07|10)", label)
    if match is None:
        return None
    version = (int(match[1]), int(match[2]))
    return version if OLDEST_VERSION <= version <= NEWEST_VERSION else None


def recognise(body: JsonObject, version: Version) -> Operation:
    query = _COMMENT.sub("", str(body.get("query", "")))
    match = _ROOT.match(query)
    if match is None:
        raise GraphQLFailure("Parse error: no selection found", "PARSE_ERROR")
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        raise GraphQLFailure("variables must be a JSON object", "INVALID_VARIABLE")
    return Operation(kind=match[1] or "query", name=body.get("operationName") or match[2],
                     root_field=match[4], response_key=match[3] or match[4], query=query,
                     variables=variables, version=version)


def argument(op: Operation, field_name: str, arg: str) -> object:
    """Value of `field_name(arg: ...)`: a variable, or a JSON-compatible literal."""
    args = re.search(rf"\b{field_name}\s*\(([^)]*)\)", op.query)
    value = args and re.search(rf"\b{arg}\s*:\s*{VALUE_PATTERN}", args[1])
    if not value:
        return MISSING
    return literal(op, value[1])


def literal(op: Operation, text: str) -> object:
    if text.startswith("$"):
        return op.variables.get(text[1:])
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise GraphQLFailure(f"unsupported literal {text}", "PARSE_ERROR") from exc


def invalid_variable(name: str, problem: str) -> GraphQLFailure:
    return GraphQLFailure(f"Variable ${name} was provided invalid value ({problem})",
                          "INVALID_VARIABLE")


def max_input(size: int) -> GraphQLFailure:
    return GraphQLFailure(f"The input array size of {size} is greater than the maximum "
                          f"allowed of {MAX_INPUT_ARRAY}.", "MAX_INPUT_SIZE_EXCEEDED")
