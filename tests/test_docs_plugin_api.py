"""The plugin author's reference is complete: every public name of ``emobench.api`` and ``emobench.sampling``
is documented in docs/plugin-api.md, every attribute a Method or Metric may declare is in its table, and the
page's list of public modules is the one the code holds."""
from __future__ import annotations

import re
from pathlib import Path

import emobench.api as api
import emobench.sampling as sampling

DOC = (Path(__file__).resolve().parent.parent / "docs" / "plugin-api.md").read_text()


def _documented(name: str) -> bool:
    return re.search(rf"`{re.escape(name)}[`(\[ =]", DOC) is not None


def test_every_public_name_of_the_api_and_the_sampling_toolkit_is_documented():
    missing = [f"{mod.__name__}.{n}" for mod in (api, sampling) for n in mod.__all__ if not _documented(n)]
    assert not missing, "docs/plugin-api.md does not document: " + ", ".join(missing)


def test_the_all_lists_name_every_public_definition():
    """A name defined in the module without a leading underscore is in its __all__ (so the test above sees it)."""
    for mod in (api, sampling):
        own = {n for n, v in vars(mod).items() if not n.startswith("_") and getattr(v, "__module__", None) == mod.__name__
               and callable(v)}
        hidden = own - set(mod.__all__) - {"Truncations", "collect_truncations", "truncated_text"}  # the runner's
        assert not hidden, f"{mod.__name__} defines public names missing from __all__: {sorted(hidden)}"


def test_every_declarable_attribute_of_method_and_metric_is_documented():
    for cls in (api.Method, api.Metric):
        attrs = [n for n, v in vars(cls).items() if not n.startswith("_") and not callable(v)
                 and not isinstance(v, (property, classmethod, staticmethod))]
        attrs += [n for n in getattr(cls, "__annotations__", {}) if not n.startswith("_")]
        missing = sorted({a for a in attrs if not _documented(a)})
        assert not missing, f"{cls.__name__} attributes not in docs/plugin-api.md: {missing}"


def test_the_public_module_list_is_the_one_the_code_holds():
    table = DOC.split("## The public surface", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `(emobench[\w.]*)` \|", table, flags=re.M)
    assert tuple(listed) == api.PUBLIC_MODULES
