"""EmoGen's official balanced training lists (``dataset_balance/{object,scene}_norepeat.pkl``), read safely.

Each list holds image paths ``…/<kind>/(<count>)<Attribute>/<emotion>_<nnnnn>.jpg``: the emotion is in the file
name, the attribute (object or scene) in the folder name. The lists are pickles, so they are read with
:class:`SafeUnpickler`, which builds only plain data (str, int, float, list, dict, the tuples/bytes inside
them) and numpy arrays: a pickle that names any other callable is refused before anything runs.

Two forms are read: a folder written by ``python -m emogen.official import`` (``train_lists.json``, checked
against the sha256 in its ``official.json``), and the raw pickles (a clone of the official repository, or its
``dataset_balance/`` folder). The EmoGen plugin's importer re-uses this reader.
"""
from __future__ import annotations

import hashlib
import io
import json
import pickle
import re
from pathlib import Path
from typing import Any

from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError

KINDS = ("object", "scene")
LFS_POINTER = b"version https://git-lfs"
MANIFEST, TRAIN_LISTS = "official.json", "train_lists.json"
IMPORT_FORMAT = "emogen-official-import"

# the only globals a pickle may name: what numpy needs to rebuild an ndarray (numpy 1 and 2 module paths)
_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
}
_FOLDER = re.compile(r"^\(\d+\)")


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that builds only plain data: str, int, float, list, dict (and the tuples/bytes numpy's
    reduce arguments use) and numpy arrays. Any other global (``os.system``, ``builtins.eval``…) is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _NUMPY_GLOBALS:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        import numpy

        if name == "_reconstruct":
            core = getattr(numpy, "_core", None) or numpy.core
            return core.multiarray._reconstruct
        return getattr(numpy, name)


def read_real(path: Path) -> bytes:
    """The file's bytes; a Git LFS pointer (a clone without ``git lfs pull``) is refused, not parsed."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise EmobenchError(f"cannot read {path} ({err.strerror})", "check the path to the official files") from None
    if data.startswith(LFS_POINTER):
        raise EmobenchError(f"{path} is a Git LFS pointer, not the file",
                            "fetch it with `git lfs pull` in the EmoGen clone (the stage-1 encoder is LFS-only)")
    return data


def safe_pickle(path: Path) -> Any:
    """Plain data from a pickle file, through :class:`SafeUnpickler` (never ``pickle.load``)."""
    data = read_real(path)
    try:
        return SafeUnpickler(io.BytesIO(data)).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError) as err:
        raise EmobenchError(f"{path} is not a plain-data pickle ({err})",
                            "use the unmodified files of the official EmoGen repository") from None


def parse_train_list(raw: Any, path: Path) -> list[list[str]]:
    """Image paths ``…/<kind>/(<count>)<Attribute>/<emotion>_<nnnnn>.jpg`` → ``[emotion, id, attribute]``
    (attribute lower-case snake_case, as the official code names its folders' contents)."""
    if not isinstance(raw, list):
        raise EmobenchError(f"{path} is not a list of image paths", "use the official *_norepeat.pkl")
    out = []
    for item in raw:
        parts = str(item).replace("\\", "/").split("/")
        if len(parts) < 2:
            raise EmobenchError(f"{path}: {item!r} is not an image path", "use the official *_norepeat.pkl")
        stem = parts[-1].rsplit(".", 1)[0]
        emotion = stem.rsplit("_", 1)[0]
        if emotion not in EMOTIONS:
            raise EmobenchError(f"{path}: {item!r} names no emotion", "use the official *_norepeat.pkl")
        out.append([emotion, stem, _FOLDER.sub("", parts[-2]).lower().replace(" ", "_")])
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _from_import(root: Path) -> dict[str, list[list[str]]]:
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError) as err:
        raise EmobenchError(f"{root / MANIFEST} is unreadable ({err})", "re-import the official files") from None
    if not isinstance(manifest, dict) or manifest.get("format") != IMPORT_FORMAT:
        raise EmobenchError(f"{root / MANIFEST} is not an import manifest", "re-import the official files")
    path = root / TRAIN_LISTS
    if not path.is_file() or _sha256(path) != manifest.get("files", {}).get(TRAIN_LISTS):
        raise EmobenchError(f"{path} is missing or does not match {MANIFEST} (altered since the import)",
                            "re-import the official files with `python -m emogen.official import`")
    lists = json.loads(path.read_text())
    if not isinstance(lists, dict) or not all(isinstance(lists.get(k), list) for k in KINDS):
        raise EmobenchError(f"{path} has no object and scene lists", "re-import the official files")
    return {k: [[str(x) for x in row] for row in lists[k]] for k in KINDS}


def read_train_lists(folder: str | Path) -> dict[str, list[list[str]]]:
    """``{"object": [[emotion, id, attribute], ...], "scene": [...]}`` from an import folder, a clone of the
    official repository or its ``dataset_balance/`` folder. Rows repeat as in the files (the balanced lists
    repeat images of rare attributes); count unique ids for statistics."""
    root = Path(folder)
    if (root / MANIFEST).is_file():
        return _from_import(root)
    for db in (root, root / "dataset_balance"):
        if all((db / f"{k}_norepeat.pkl").is_file() for k in KINDS):
            return {k: parse_train_list(safe_pickle(db / f"{k}_norepeat.pkl"), db / f"{k}_norepeat.pkl")
                    for k in KINDS}
    raise EmobenchError(f"{root} holds neither an official import ({MANIFEST}) nor the official lists "
                        "(dataset_balance/object_norepeat.pkl, scene_norepeat.pkl)",
                        "pass the folder written by `python -m emogen.official import EmoGen/ --out DIR` "
                        "or a clone of github.com/JingyuanYY/EmoGen")


def lists_hash(lists: dict[str, list[list[str]]]) -> str:
    """Identifies the lists' content (not their path or form: an import folder and the raw pickles it came
    from hash alike): part of the key of anything built from them."""
    canon = {k: sorted({tuple(row) for row in lists.get(k, [])}) for k in KINDS}
    return hashlib.sha256(json.dumps(canon, sort_keys=True).encode()).hexdigest()[:16]
