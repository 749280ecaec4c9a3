"""Rewrite the generated blocks of docs/emoset-mini.md: the world's tables (always) and, given an import of the
official EmoGen repository, the `emobench zoo stats --world --official DIR` table.

    python scripts/emoset_mini_doc.py [OFFICIAL_DIR]
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from emobench.world import tables_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "emoset-mini.md"


def replace_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name}: [^\n]*-->\n).*?(<!-- /{name} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"no <!-- {name}: ... --> block in {DOC}")
    return pattern.sub(lambda m: m.group(1) + body.strip() + "\n" + m.group(2), text)


def main(argv: list[str]) -> None:
    text = replace_block(DOC.read_text(), "tables", tables_markdown())
    if argv:
        from emobench.zoo.stats import official_source, table_markdown, world_source

        lines = table_markdown([world_source(), official_source(argv[0])])
        text = replace_block(text, "stats", "\n".join(lines).replace(argv[0], "an import of the official repository"))
    DOC.write_text(text)
    print(DOC)


if __name__ == "__main__":
    main(sys.argv[1:])
