"""Validate parsed YAML against a pydantic model, turning each error into a Problem at its line."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bot.errors import Problem
from bot.knowledge.schema import SLUG
from bot.knowledge.yamlfile import YamlFile

M = TypeVar("M", bound=BaseModel)

_MESSAGES = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown field",
    "string_too_short": "must not be empty",
    "string_type": "must be text",
    "list_type": "must be a list",
    "dict_type": "must be a mapping of fields",
    "model_type": "must be a mapping of fields",
    "model_attributes_type": "must be a mapping of fields",
}


def validate_model(
    parsed: YamlFile, model: type[M], problems: list[Problem], data: Any = None, prefix: tuple[Any, ...] = ()
) -> M | None:
    """`data` (default: the whole file) as `model`, or None with its problems; `prefix` locates it."""
    data = parsed.data if data is None and not prefix else data
    if data is None:
        problems.append(Problem(parsed.path, 1, "the file is empty"))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = prefix + tuple(err["loc"])
            kind = err["type"]
            if kind == "string_pattern_mismatch":
                pattern = err.get("ctx", {}).get("pattern", "")
                message = (
                    "must look like 'document-id#section-id'"
                    if "#" in pattern
                    else "must be lowercase letters, digits and single hyphens (e.g. 'export-aiuti')"
                    if pattern == SLUG
                    else "must be a two-letter language code such as 'it'"
                )
            elif kind == "string_too_long":
                message = f"is too long (at most {err.get('ctx', {}).get('max_length')} characters)"
            elif kind == "extra_forbidden":
                allowed = _allowed_fields(model, loc[len(prefix):-1])
                message = _MESSAGES[kind] + (f" (allowed: {', '.join(allowed)})" if allowed else "")
            else:
                message = _MESSAGES.get(kind, err["msg"])
            problems.append(parsed.problem(loc, message))
        return None


def _allowed_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names allowed at `loc` inside `model`, for 'unknown field' hints."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part) if isinstance(current, type) and issubclass(current, BaseModel) else None
        if info is None:
            return []
        current = _inner_model(info.annotation)
        if current is None:
            return []
    return list(current.model_fields) if isinstance(current, type) and issubclass(current, BaseModel) else []


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found:
            return found
    return None
