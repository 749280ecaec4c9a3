"""The one content hash of the project (config, plan, store keys, artifact keys, zoo parts).

Its own module, below ``api`` and ``zoo.base``, so both can use it without importing each other;
``emobench.api`` re-exports it for plugins."""
from __future__ import annotations

import hashlib
import json
from typing import Any


def stable_hash(obj: Any, n: int = 16) -> str:
    """sha256 of canonical JSON, truncated; the one hash used for config, plan and content keys."""
    blob = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:n]
