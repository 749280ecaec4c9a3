"""Where submitted images are read from: a folder (``folder:NAME=DIR``) or a bundle zip (``bundle:FILE.zip``),
both read-only and never extracted to disk, and the check that their images match the plan's cells one to one.

A folder's entries are listed once: hidden files, sub-folders and files that are not images (``submission.json``,
a README) are ignored; a symlink must point inside the folder, and every image must be a regular file. A
bundle is refused whole when it is over ``MAX_BUNDLE_BYTES``, has over ``MAX_ENTRIES`` entries, an entry
name that is absolute or holds ``..``, a symlink, an encrypted or duplicate entry, or an entry larger than
its limit (read with a bound, whatever the zip's directory claims).
"""
from __future__ import annotations

import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable, Sequence

from emobench.errors import EmobenchError

from baselines.submission.images import FORMATS, MAX_IMAGE_BYTES, size_text

MAX_BUNDLE_BYTES = 8 * 2 ** 30     # the zip file itself
MAX_ENTRIES = 200_000
MAX_JSON_BYTES = 16 * 2 ** 20      # bundle.json, protocol.json, plan.json, provenance
SHOWN = 4                          # names shown per kind of problem in a one-line error


class SubmissionError(EmobenchError):
    """The submission as a whole does not fit the plan, or is unsafe to read; ``str`` is one line."""


def listing(names: Sequence[str], total: int | None = None) -> str:
    """``a, b, c, d and 7 more``: a list short enough for one line."""
    total = len(names) if total is None else total
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {total - SHOWN} more" if total > SHOWN else "")


@dataclass(frozen=True)
class Entry:
    file_id: str
    name: str            # the file name (folder) or entry name (bundle)


def match_plan(entries: Iterable[Entry], ids: Sequence[str], where: str, skipped: Sequence[str] = ()) -> dict[str, Entry]:
    """The one image of each plan id, or one error listing every missing, extra and duplicated id."""
    by_id: dict[str, list[Entry]] = {}
    for e in entries:
        by_id.setdefault(e.file_id, []).append(e)
    wanted = set(ids)
    missing = [i for i in ids if i not in by_id]
    extra = sorted(e.name for i, es in by_id.items() if i not in wanted for e in es)
    dupes = sorted(f"{i} ({' + '.join(sorted(e.name for e in es))})" for i, es in by_id.items() if i in wanted and len(es) > 1)
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing ({listing(missing)})")
    if extra:
        problems.append(f"{len(extra)} extra ({listing(extra)})")
    if dupes:
        problems.append(f"{len(dupes)} duplicated ({listing(dupes)})")
    if problems:
        other = [n for n in skipped if n.rsplit(".", 1)[0] in wanted]
        hint = f"; not read, not .png/.jpg/.jpeg/.webp: {listing(other)}" if other else ""
        raise SubmissionError(f"{where} does not match the plan's {len(ids)} cells: {'; '.join(problems)}{hint}",
                              "one image <id>.png|jpg|jpeg|webp per row of the plan export's cells.csv "
                              "(`emobench plan export` with the run's flags)")
    return {i: es[0] for i, es in by_id.items()}


def split_name(name: str) -> tuple[str, str] | None:
    """``"fear-0-ab12.PNG"`` → ``("fear-0-ab12", "png")`` for an accepted image extension, else None."""
    stem, dot, ext = name.rpartition(".")
    return (stem, ext.lower()) if dot and stem and ext.lower() in FORMATS else None


class FolderSource:
    """The images of one folder, by file name."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        try:
            self.root = self.folder.resolve(strict=True)
        except (OSError, RuntimeError):
            raise SubmissionError(f"submission folder {str(self.folder)!r} does not exist",
                                  "pass the folder holding the images: folder:NAME=DIR") from None
        if not self.root.is_dir():
            raise SubmissionError(f"submission {str(self.folder)!r} is not a folder",
                                  "pass a folder of images (a zip made by `emobench bundle` goes as bundle:FILE.zip)")

    def entries(self) -> tuple[list[Entry], list[str]]:
        """Every image entry, and the names of files skipped for their extension; unsafe entries are an error."""
        images, skipped, outside, special = [], [], [], []
        with os.scandir(self.root) as it:
            for de in sorted(it, key=lambda d: d.name):
                if de.name.startswith("."):
                    continue
                parts = split_name(de.name)
                if de.is_symlink():
                    target = self._inside(de.name)
                    if target is None:
                        outside.append(de.name)
                        continue
                if de.is_dir():
                    continue
                if parts is None:
                    skipped.append(de.name)
                    continue
                if not stat.S_ISREG(os.stat(self.root / de.name).st_mode):
                    special.append(de.name)
                    continue
                images.append(Entry(parts[0], de.name))
        if outside:
            raise SubmissionError(f"{len(outside)} symlink(s) in {self.folder} point outside it or nowhere "
                                  f"({listing(outside)})", "copy the images into the folder itself")
        if special:
            raise SubmissionError(f"{listing(special)} in {self.folder} are not regular files",
                                  "replace them with plain image files")
        return images, skipped

    def _inside(self, name: str) -> Path | None:
        try:
            target = (self.root / name).resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        return target if target.is_relative_to(self.root) else None

    def read(self, name: str) -> bytes:
        path = self.root / name
        if path.is_symlink() and self._inside(name) is None:   # swapped since the listing: refuse, never follow
            raise SubmissionError(f"{name} in {self.folder} now points outside it", "copy the images into the folder")
        with open(path, "rb") as fh:
            data = fh.read(MAX_IMAGE_BYTES + 1)
        return data

    def read_json(self, name: str) -> bytes | None:
        path = self.root / name
        if not path.is_file() or (path.is_symlink() and self._inside(name) is None):
            return None
        with open(path, "rb") as fh:
            return fh.read(MAX_JSON_BYTES + 1)


class BundleSource:
    """The entries of one bundle zip (``emobench bundle``), checked once for safety; read into memory only."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise SubmissionError(f"bundle {str(self.path)!r} does not exist", "pass a .zip made by `emobench bundle`")
        size = self.path.stat().st_size
        if size > MAX_BUNDLE_BYTES:
            raise SubmissionError(f"bundle {self.path.name} is {size_text(size)}, over the {size_text(MAX_BUNDLE_BYTES)} "
                                  "limit", "bundle fewer or smaller images")
        try:
            with zipfile.ZipFile(self.path) as zf:
                infos = zf.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            raise SubmissionError(f"{self.path.name} is not a readable zip file",
                                  "make the bundle with `emobench bundle RUN --method NAME --out FILE.zip`") from None
        self.infos = {i.filename: i for i in infos}
        self._check(infos)

    def _check(self, infos: list[zipfile.ZipInfo]) -> None:
        bad = lambda why, fix="re-make the bundle with `emobench bundle`": SubmissionError(  # noqa: E731
            f"bundle {self.path.name} {why}", fix)
        if len(infos) > MAX_ENTRIES:
            raise bad(f"has {len(infos)} entries, over the {MAX_ENTRIES} limit")
        if len(self.infos) != len(infos):
            raise bad("holds two entries of the same name")
        total = 0
        for i in infos:
            name = i.filename
            pure = PurePosixPath(name)
            if (name.startswith(("/", "\\")) or "\\" in name or ".." in pure.parts or (len(name) > 1 and name[1] == ":")
                    or any(p in ("", ".") for p in name.rstrip("/").split("/"))):
                raise bad(f"has an unsafe entry name {name!r} (absolute, '..' or empty parts)")
            if stat.S_ISLNK(i.external_attr >> 16):
                raise bad(f"has a symlink entry {name!r}")
            if i.flag_bits & 0x1:
                raise bad(f"has an encrypted entry {name!r}")
            limit = MAX_IMAGE_BYTES if name.startswith("images/") else MAX_JSON_BYTES
            if i.file_size > limit and not i.is_dir():
                raise bad(f"entry {name!r} is {size_text(i.file_size)}, over its {size_text(limit)} limit")
            total += i.file_size
        if total > 2 * MAX_BUNDLE_BYTES:
            raise bad(f"expands to {size_text(total)}, over the {size_text(2 * MAX_BUNDLE_BYTES)} limit")

    def names(self) -> list[str]:
        return sorted(n for n, i in self.infos.items() if not i.is_dir())

    def read(self, name: str, limit: int = MAX_IMAGE_BYTES) -> bytes:
        """An entry's bytes, reading at most ``limit + 1`` whatever its header says (a zip bomb stops there)."""
        try:
            with zipfile.ZipFile(self.path) as zf, zf.open(self.infos[name]) as fh:
                data = fh.read(limit + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError, NotImplementedError) as err:
            raise SubmissionError(f"bundle {self.path.name}: entry {name!r} cannot be read ({type(err).__name__})",
                                  "re-make the bundle with `emobench bundle`") from None
        if len(data) > limit:
            raise SubmissionError(f"bundle {self.path.name}: entry {name!r} expands past its {size_text(limit)} limit",
                                  "re-make the bundle with `emobench bundle`")
        return data
