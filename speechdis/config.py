"""YAML configuration files <-> dataclasses, strictly typed.

A config file maps onto a dataclass: every key must be a field, and every value must have the
field's type, otherwise :class:`~speechdis.errors.ConfigError` names the offending key (dotted for
nested dataclasses, e.g. ``model.encoder.hidden``). Typos therefore fail loudly instead of being
silently ignored and leaving a default in place.

YAML with a key given twice in one mapping is refused (PyYAML would silently keep the last value).

Choices are ``Literal[...]`` fields; a config dataclass calls :func:`check_choices` in its ``__post_init__``
so that configs built in code are checked as strictly as files, and raises ``ConfigError`` for its other checks.

Supported field types: ``bool``, ``int``, ``float`` (finite; ints are accepted), ``str``, ``Literal[...]``,
``Optional[X]`` / ``X | None``, ``list[X]``, ``tuple[X, ...]``, ``dict[str, X]``, ``Any`` and
nested dataclasses.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
import types
import typing
from pathlib import Path
from typing import Any, Literal, Mapping, TypeVar, Union

import yaml

from speechdis.errors import ConfigError
from speechdis.fileio import atomic_open

T = TypeVar("T")

__all__ = [
    "from_dict",
    "to_dict",
    "load_config",
    "read_config_file",
    "save_config",
    "apply_overrides",
    "load_yaml",
    "check_choices",
]


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)  # resolves "<<" merge keys, which may legitimately repeat keys
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            if key in seen:
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (line {mark.line + 1}; first on line {seen[key] + 1})",
                    mark)
            seen[key] = key_node.start_mark.line
        except TypeError:  # unhashable key: let PyYAML report it
            pass
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(stream: Any) -> Any:
    """``yaml.safe_load`` that raises ``yaml.YAMLError`` for a duplicate key in a mapping."""
    return yaml.load(stream, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, key: str) -> Any:
    """Check/convert ``value`` against annotation ``tp``; raise ConfigError naming ``key``."""
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)

    if origin is Union or origin is types.UnionType:
        if value is None:
            if type(None) in args:
                return None
            raise ConfigError(f"config key '{key}': null is not allowed (expected {_type_name(tp)})")
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, key)
            except ConfigError:
                continue
        raise ConfigError(f"config key '{key}': {value!r} does not match {_type_name(tp)}")

    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(f"config key '{key}': {value!r} is not one of {choices}")
        return value

    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"config key '{key}': expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, prefix=f"{key}.")

    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{key}': expected a list, got {value!r}")
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                raise ConfigError(f"config key '{key}': expected {len(args)} items, got {len(value)}")
            return tuple(_convert(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item_tp = args[0] if args else Any
        items = [_convert(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if (origin is tuple or tp is tuple) else items

    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"config key '{key}': expected a mapping, got {value!r}")
        key_tp, val_tp = (args if args else (Any, Any))
        return {
            _convert(k, key_tp, f"{key}.{k}"): _convert(v, val_tp, f"{key}.{k}") for k, v in value.items()
        }

    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config key '{key}': expected true/false, got {value!r}")
        return value
    if tp is int:
        # bool is a subclass of int; "true" for a count is almost certainly a mistake.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config key '{key}': expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key '{key}': expected a number, got {value!r}")
        if not math.isfinite(value):  # .inf / .nan pass the type but wreck training at step 1
            raise ConfigError(f"config key '{key}': expected a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"config key '{key}': expected a string, got {value!r}")
        return value
    if isinstance(tp, type):
        if not isinstance(value, tp):
            raise ConfigError(f"config key '{key}': expected {tp.__name__}, got {value!r}")
        return value
    raise ConfigError(f"config key '{key}': unsupported field type {_type_name(tp)}")


def from_dict(cls: type[T], data: Mapping[str, Any] | None, *, prefix: str = "") -> T:
    """Build dataclass ``cls`` from a mapping; unknown or mistyped keys raise ConfigError.

    Missing keys take the dataclass defaults; a field without a default must be present.
    ``prefix`` is prepended to key names in messages (used for nested dataclasses).
    """
    if not (dataclasses.is_dataclass(cls) and isinstance(cls, type)):
        raise TypeError(f"{cls!r} is not a dataclass type")
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise ConfigError(f"config{' ' + prefix.rstrip('.') if prefix else ''}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        known = ", ".join(sorted(fields))
        raise ConfigError(f"unknown config key '{prefix}{unknown[0]}' (known keys: {known})")
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], f"{prefix}{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing required config key '{prefix}{name}'")
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        # __post_init__ validation problems are configuration problems too.
        raise ConfigError(f"config{' ' + prefix.rstrip('.') if prefix else ''}: {e}") from e


@functools.lru_cache(maxsize=None)
def _choice_fields(cls: type) -> tuple[tuple[str, Any], ...]:
    """``(name, type)`` of the fields of dataclass ``cls`` whose type is or contains a ``Literal``."""
    def has_literal(tp: Any) -> bool:
        return typing.get_origin(tp) is Literal or any(has_literal(a) for a in typing.get_args(tp))

    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls) if has_literal(hints[f.name]))


def check_choices(obj: Any, prefix: str = "") -> None:
    """Raise :class:`ConfigError` when a ``Literal`` field of dataclass ``obj`` holds a value outside its choices.

    The loader checks files and ``--set`` values already; a config dataclass calls this in ``__post_init__`` so
    that one built in code is held to the same choices (``prefix``: the key's section, e.g. ``"model."``).
    """
    for name, tp in _choice_fields(type(obj)):
        _convert(getattr(obj, name), tp, f"{prefix}{name}")


def to_dict(obj: Any) -> dict[str, Any]:
    """Dataclass -> plain dict of YAML-safe values (tuples become lists)."""
    if not dataclasses.is_dataclass(obj):
        raise TypeError(f"{obj!r} is not a dataclass instance")

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, Path):
            return str(v)
        return v

    return plain(obj)


def _parse_override(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise ConfigError(f"override '{item}' is not of the form key=value")
    key, raw = item.split("=", 1)
    # YAML parsing gives "3" -> 3, "true" -> True, "null" -> None, like in the file.
    try:
        value = load_yaml(raw) if raw != "" else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"override '{item}': cannot parse value: {e}") from e
    return key.strip(), value


def apply_overrides(data: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    """Apply ``key=value`` / ``a.b=value`` strings (values parsed as YAML) to a nested dict copy."""
    out = dict(data)
    for item in overrides or []:
        key, value = _parse_override(item)
        parts = key.split(".")
        node = out
        for p in parts[:-1]:
            child = node.get(p)
            child = dict(child) if isinstance(child, Mapping) else {}
            node[p] = child
            node = child
        node[parts[-1]] = value
    return out


def load_config(cls: type[T], path: str | os.PathLike | None = None, overrides: list[str] | None = None) -> T:
    """Load YAML file ``path`` (or just defaults when None) into dataclass ``cls``.

    ``overrides`` are ``key=value`` strings applied on top of the file (for ``--set`` options).
    Errors name the file and the key.
    """
    data = read_config_file(path) if path is not None else {}
    try:
        return from_dict(cls, apply_overrides(data, overrides))
    except ConfigError as e:
        culprit = _blame_override(cls, data, list(overrides or []), str(e))
        if culprit is not None:
            raise ConfigError(f"--set {culprit}: {e}") from None
        if path is not None:
            raise ConfigError(f"{path}: {e}") from None
        raise


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """The mapping of YAML config file ``path`` (empty for an empty file), unchecked: :func:`from_dict` checks it.

    A missing or unreadable file, invalid YAML (a key given twice included) or a top level that is not a mapping
    is a :class:`ConfigError` naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as e:
        raise ConfigError(f"config file {path}: cannot read: {e}") from e
    try:
        loaded = load_yaml(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path}: invalid YAML: {e}") from e
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, Mapping):
        raise ConfigError(f"config file {path}: top level must be a mapping, got {type(loaded).__name__}")
    return dict(loaded)


def _blame_override(cls: type, data: dict[str, Any], overrides: list[str], message: str) -> str | None:
    """The override (``--set`` item) behind a config error, or None when the error is the file's.

    An override is to blame when leaving it out makes the error go away or change; among several,
    the one whose key the message names."""
    suspects = []
    for i, item in enumerate(overrides):
        try:
            from_dict(cls, apply_overrides(data, overrides[:i] + overrides[i + 1:]))
        except ConfigError as e:
            if str(e) == message:
                continue
        suspects.append(item)
    for item in suspects:
        key = item.split("=", 1)[0].strip()
        parts = key.split(".")
        if any(f"'{'.'.join(parts[:k])}" in message or f"{'.'.join(parts[:k])} " in message
               for k in range(len(parts), 0, -1)):
            return item
    return suspects[0] if suspects else None


def save_config(obj: Any, path: str | os.PathLike, header: str | None = None) -> None:
    """Write dataclass ``obj`` as YAML (atomically); ``header`` lines are written as # comments."""
    text = yaml.safe_dump(to_dict(obj), sort_keys=False, default_flow_style=False)
    with atomic_open(path, "w", encoding="utf-8") as f:
        if header:
            for line in header.splitlines():
                f.write(f"# {line}\n")
        f.write(text)
