"""Load YAML and validate it into a pydantic model, reporting errors with file, line and field."""

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from agent.errors import FileError

T = TypeVar("T", bound=BaseModel)
_TAGS = frozenset({"modbus", "camera"})


class LocatedError(ValueError):
    """Raised inside a model validator to point at the field that is wrong, not the whole model."""

    def __init__(self, loc: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


def _line_map(node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> None:
    """Record the 1-based line of every key and list item below a composed YAML node."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*path, key)] = key_node.start_mark.line + 1
            _line_map(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _line_map(item, (*path, index), lines)


def field_name(loc: tuple[Any, ...]) -> str:
    """Render a pydantic error location as ``points[3].address``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def read_yaml(path: Path, error: type[FileError] = FileError) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse a YAML file; return the data and a map from field path to line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(str(path), "(file)", f"cannot read: {exc.strerror}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(str(path), "(syntax)", f"invalid YAML: {problem}", line) from None
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _line_map(node, (), lines)
    return data, lines


def line_of(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest known prefix of a location."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def validate_file(
    path: Path,
    model: type[T],
    data: Any,
    lines: dict[tuple[Any, ...], int],
    error: type[FileError] = FileError,
) -> T:
    """Validate parsed YAML data into a model; raise ``error`` naming file, line and field."""
    if not isinstance(data, dict):
        raise error(str(path), "(document)", "must be a mapping of fields", 1)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        cause = (first.get("ctx") or {}).get("error")
        if isinstance(cause, LocatedError):
            loc, msg = tuple(first["loc"]) + cause.loc, str(cause)
        else:
            loc, msg = tuple(first["loc"]), first["msg"].removeprefix("Value error, ")
        if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = ("driver",)
        if loc and isinstance(loc[0], str) and loc[0] in _TAGS:
            loc = loc[1:]  # the union member pydantic tried (a profile's driver), not a field
        if first["type"] == "extra_forbidden":
            msg = "unknown field"
        raise error(str(path), field_name(loc), msg, line_of(lines, loc)) from None
