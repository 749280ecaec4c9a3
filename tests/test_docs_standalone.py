"""Docs stand alone: nothing under docs/ or the README points outside the repository."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")       # [text](target) and ![alt](target)
RELATIVE_PATH = re.compile(r"(?<![\w/.])((?:\.\./)+[\w./-]+)")           # ../x/y written anywhere in the text


def _inside(doc: Path, target: str) -> bool:
    path = (doc.parent / target.split("#", 1)[0]).resolve()
    return path == ROOT or ROOT in path.parents


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_doc_links_stay_inside_the_repository(doc):
    text = doc.read_text(encoding="utf-8")
    bad = []
    for target in LINK.findall(text):
        if target.startswith(("#", "http://", "https://", "mailto:")):
            continue
        if target.startswith("/") or not _inside(doc, target):
            bad.append(target)
        elif not (doc.parent / target.split("#", 1)[0]).exists():
            bad.append(f"{target} (missing)")
    # Paths mentioned in prose or code spans count too: a reader would follow `../shared/x.md` as well.
    bad += [p for p in RELATIVE_PATH.findall(text)
            if not _inside(doc, p) or not (doc.parent / p).exists()]
    assert not bad, f"{doc.relative_to(ROOT)} points outside the repository: {bad}"


def test_the_check_catches_an_outside_path():
    doc = ROOT / "docs" / "x.md"
    assert not _inside(doc, "../../shared/DESIGN.md") and not _inside(doc, "../../../etc")
    assert not (doc.parent / "../shared/DESIGN.md").exists()   # what the docs used to point at
    assert _inside(doc, "../examples/") and _inside(doc, "img/emoset-mini-grid.png")
    assert RELATIVE_PATH.findall("see `../shared/DESIGN.md` for") == ["../shared/DESIGN.md"]
