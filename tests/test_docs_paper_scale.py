"""docs/paper-scale.md lists every option of every built-in method, with its current default, and names the
sha256 prefixes the loader actually checks."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from emobench import registry
from emobench.zoo.official import OFFICIAL

from support.kit_options import builtin_methods

DOC = Path(__file__).resolve().parents[1] / "docs" / "paper-scale.md"


def _table() -> dict[tuple[str, str], str]:
    text = DOC.read_text()
    block = text[text.index("<!-- method-options:start -->"):text.index("<!-- method-options:end -->")]
    return {(m, o): d for m, o, d in re.findall(r"^\| `([^`]+)` \| `([^`]+)` \| `(.*)` \|$", block, re.M)}


def test_every_method_option_is_documented_with_its_default():
    table = _table()
    expected = {}
    for name in builtin_methods():
        for f in dataclasses.fields(registry.methods().get(name).Config):
            if f.default is not dataclasses.MISSING:
                expected[(name, f.name)] = repr(f.default)
            elif f.default_factory is not dataclasses.MISSING:
                expected[(name, f.name)] = repr(f.default_factory())
            else:
                expected[(name, f.name)] = "(required)"
    assert set(table) == set(expected), set(expected) ^ set(table)
    assert table == expected


def test_documented_hash_prefixes_are_the_checked_ones():
    text = DOC.read_text()
    for prefixes in OFFICIAL.values():
        for prefix in prefixes:
            assert f"| `{prefix}` |" in text, prefix
