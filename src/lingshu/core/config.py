"""One way to read configuration, for every area: a strict base model, YAML loading,
``key=value`` overrides and validation errors as one line a person can act on.

Every recipe and config in the package (training, curation, pipeline, evaluation, report
metrics, backends) goes through these functions, so a typo, a wrong type, a file that is
not UTF-8 or not YAML reads the same everywhere: ``FILE: key.path: what is wrong``.

``key=value`` overrides take a YAML value (numbers, booleans, lists parse as such) and a
dotted path. A list element is addressed by its index (``stages.0``) or, where the list
holds mappings with a ``name``, by that name (``stages.stage1``). Negative or
out-of-range indices are errors, never a silent append or a write to the last element.

A recipe resolves the relative paths written in it against its own folder; a relative path
given as an override was typed at a shell, so it means the current folder. ``paths`` names
the keys a loader resolves against its folder (``*`` stands for any one part: an index, a
name or a key); an override of such a key, or of a mapping or list holding one, gets its
relative paths made absolute against the current folder before validation, so the loader's
"relative: against my folder" rule never sees it.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from lingshu.core.errors import UserError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of every typed config: unknown keys are errors (a typo never passes silently)."""

    model_config = ConfigDict(extra="forbid")


class FrozenStrictModel(BaseModel):
    """A strict config that is also immutable and hashable (parameters that form cache keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- YAML


def read_yaml(path: str | Path, *, what: str = "file", expect_mapping: bool = True) -> Any:
    """Parse a YAML file; missing, unreadable, non-UTF-8 and malformed files are one-line
    ``UserError``s naming the file (and the line, where YAML says which)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: {what} not found; check the path")
    if path.is_dir():
        raise UserError(f"{path}: is a folder; expected a YAML {what}")
    try:
        text = path.read_bytes().decode("utf-8")
    except PermissionError:
        raise UserError(f"{path}: cannot read the {what} (permission denied)") from None
    except UnicodeDecodeError as e:
        raise UserError(
            f"{path}: the {what} is not UTF-8 text (byte {e.start}); save it as UTF-8"
        ) from None
    except OSError as e:
        raise UserError(f"{path}: cannot read the {what} ({e.strerror or e})") from None
    return parse_yaml_text(text, where=str(path), what=what, expect_mapping=expect_mapping)


def parse_yaml_text(
    text: str, *, where: str, what: str = "file", expect_mapping: bool = True
) -> Any:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}:" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UserError(f"{where}:{line} not valid YAML ({problem})") from None
    if data is None and expect_mapping:
        return {}
    if expect_mapping and not isinstance(data, dict):
        raise UserError(f"{where}: expected a mapping of {what} keys at the top level")
    return data


# --------------------------------------------------------------------------- overrides


def parse_override(item: str, *, example: str = "stages.0.max_steps=10") -> tuple[str, Any]:
    """``"a.b=3"`` -> ``("a.b", 3)``; the value is read as YAML (a bad YAML value stays text)."""
    if "=" not in item:
        raise UserError(f"override {item!r}: expected key=value, e.g. {example}")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key or any(not p for p in key.split(".")):
        raise UserError(f"override {item!r}: the key is empty or has an empty part")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    return key, value


def apply_overrides(
    data: Mapping[str, Any],
    overrides: Iterable[str],
    *,
    example: str = "stages.0.max_steps=10",
    paths: Iterable[str] = (),
    path_base: Path | None = None,
) -> dict[str, Any]:
    """A copy of ``data`` with each ``key.path=value`` applied in order; relative paths in
    overrides of the ``paths`` keys made absolute against ``path_base`` (default: the
    current folder; a recipe's own list of overrides passes its folder)."""
    out = copy.deepcopy(dict(data))
    patterns = [p.split(".") for p in paths]
    for item in overrides:
        key, value = parse_override(item, example=example)
        parts = key.split(".")
        for pattern in patterns:
            if len(parts) <= len(pattern) and all(
                    p in ("*", k) for p, k in zip(pattern, parts, strict=False)):
                value = _absolute(value, pattern[len(parts):], path_base or Path.cwd())
        set_path(out, key, value)
    return out


def _absolute(value: Any, rest: list[str], base: Path) -> Any:
    """``value`` with the relative path at ``rest`` below it made absolute against ``base``;
    URLs (``s3://``), absolute paths and values of other types are kept as given."""
    if rest:
        head, tail = rest[0], rest[1:]
        if isinstance(value, list):
            return [_absolute(v, tail, base) if head in ("*", str(i)) or
                    (isinstance(v, dict) and v.get("name") == head) else v
                    for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {k: _absolute(v, tail, base) if head in ("*", k) else v
                    for k, v in value.items()}
        return value
    if not isinstance(value, str) or not value or "://" in value:
        return value
    return os.path.join(base, os.path.expanduser(value))  # an absolute one stays itself


def set_path(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data[a][b]... = value`` for ``key = "a.b..."``; mappings are created on the way."""
    parts = key.split(".")
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[:i]) or "(top level)"
        if isinstance(node, list):
            idx = _list_index(node, part, key)
            if last:
                node[idx] = value
            else:
                node = node[idx]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                if node.get(part) is None:
                    node[part] = {}
                node = node[part]
        else:
            raise UserError(f"override {key!r}: {where} is a value, not a mapping or list")


def _list_index(items: list, part: str, key: str) -> int:
    if part.lstrip("-").isdigit():
        idx = int(part)
        if not 0 <= idx < len(items):
            raise UserError(
                f"override {key!r}: index {idx} is out of range; "
                f"use 0..{len(items) - 1} or an element's name"
            )
        return idx
    for i, it in enumerate(items):
        if isinstance(it, dict) and it.get("name") == part:
            return i
    names = [it.get("name") for it in items if isinstance(it, dict) and it.get("name")]
    known = f"; names: {', '.join(map(str, names))}" if names else ""
    raise UserError(f"override {key!r}: no element named {part!r}{known}")


# --------------------------------------------------------------------------- validation


def format_validation_error(
    err: ValidationError, *, where: str | None = None, unknown_hint: str | None = None
) -> str:
    """The first problem of a pydantic error as one line: ``where: loc: message (+N more)``."""
    errors = err.errors()
    first = errors[0]
    loc = ".".join(_loc_part(x) for x in first["loc"])
    msg = str(first["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    kind = first["type"]
    if kind == "extra_forbidden":
        msg = "unknown key" + (f" ({unknown_hint})" if unknown_hint else "; check its spelling")
    elif kind == "missing":
        msg = "required key is missing"
    elif kind in {"literal_error", "enum"}:
        value = _short(first.get("input"))
        msg = f"{value} is not allowed; {msg[0].lower() + msg[1:]}"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    parts = [p for p in (where, loc) if p]
    if loc and msg.startswith(loc + "."):  # nested validators already name their location
        parts = [p for p in (where,) if p]
    # a key or value holding a line break must not break the one line (issue 22's fuzz pass)
    return (": ".join([*parts, msg]) + more).replace("\r", "\\r").replace("\n", "\\n")


def _loc_part(part: Any) -> str:
    """A key as written when it is a plain word, else quoted (an empty key, one with spaces
    or control characters would otherwise be invisible or break the line)."""
    text = str(part)
    return text if text and text.isprintable() and not any(c.isspace() for c in text) else repr(text)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate(
    model: type[M], data: Any, *, where: str | None = None, unknown_hint: str | None = None
) -> M:
    """``model.model_validate(data)`` with the error as one ``UserError`` line."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise UserError(format_validation_error(e, where=where, unknown_hint=unknown_hint)) from None


def load_config(
    model: type[M],
    path: str | Path,
    overrides: Iterable[str] = (),
    *,
    what: str = "config",
    unknown_hint: str | None = None,
) -> M:
    """Read a YAML file, apply overrides and validate it against ``model``."""
    data = read_yaml(path, what=what)
    data = apply_overrides(data, overrides)
    return validate(model, data, where=str(path), unknown_hint=unknown_hint)


# --------------------------------------------------------------------------- descriptions


def field_rows(model: type[BaseModel]) -> list[tuple[str, str, str]]:
    """``(name, default, description)`` per field, for ``--help`` texts and list commands.

    A required field shows ``(required)``; a default made by a factory shows the value the
    factory makes; pydantic's internal "undefined" marker never reaches a user.
    """
    rows = []
    for name, info in model.model_fields.items():
        if info.is_required():
            default = "(required)"
        elif info.default_factory is not None:
            try:
                default = _short(info.default_factory())  # type: ignore[call-arg]
            except TypeError:
                default = "(computed)"
        else:
            default = _short(info.default)
        rows.append((name, default, info.description or ""))
    return rows
