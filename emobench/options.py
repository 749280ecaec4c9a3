"""Method options given as text (``name:key=value`` on the command line, strings in TOML) converted to the
types of a plugin's ``Config`` dataclass fields. Re-exported by ``emobench.api``."""
from __future__ import annotations

import types
import typing
from typing import Any, Union
def type_name(tp: Any) -> str:
    """How an option's type reads in an error message."""
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def convert_option(raw: str, tp: Any) -> Any:
    """``raw`` (the text of ``name:key=raw``) as type ``tp``: int/float/str/bool, Optional, Literal, and
    ``+``-joined tuples/lists. Raises ValueError/TypeError; callers name the option in their error."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if raw.lower() in ("none", "null", "") and len(args) < len(typing.get_args(tp)):
            return None
        errors = []
        for arg in args:
            try:
                return convert_option(raw, arg)
            except (TypeError, ValueError) as err:
                errors.append(str(err))
        raise ValueError("; ".join(errors))
    if origin in (tuple, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis] or [str]
        parts = [s.strip() for s in raw.split("+")] if raw.strip() else []
        if any(not p for p in parts):   # "a++b", "+a", "a+": a degenerate list, never silently shortened
            raise ValueError(f"{raw!r} has an empty item (write items joined by single '+', e.g. a+b)")
        items = [convert_option(p, args[0]) for p in parts]
        return tuple(items) if origin is tuple else items
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        for c in choices:
            if str(c) == raw:
                return c
        raise ValueError(f"choose one of {choices}")
    if tp is bool:
        low = raw.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError("expected true/false")
    if tp is float:
        value = float(raw)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("expected a finite number")
        return value
    if tp in (int, str):
        return tp(raw)
    if tp is Any:
        return raw
    raise TypeError(f"options of type {type_name(tp)} cannot be given on the command line")
