"""The bad-input table of submissions (``folder:NAME=DIR``, ``bundle:FILE.zip``): every row exits 2 with one
``emobench: error:`` line naming the problem and writes nothing; then the images that are converted instead of
refused, with what the run records about them (docs/submit-images.md, "What images are accepted")."""
from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emobench.cli import main as cli
from emobench.io.images import load_image

from support.submissions import (EMOTIONS, N, bomb_png, jpeg, methods_json, pixels, plan_ids, png, rgb16_png,
                                 write_folder)

IDS = plan_ids()


def run_argv(zoo_dir, out, spec, *extra):
    return ["run", "--zoo", str(zoo_dir), "--emotions", ",".join(EMOTIONS), "--n-per-emotion", str(N),
            "--metrics", "emo-a", "--methods", spec, "--out", str(out), "--no-progress", *extra]


def _replace(folder: Path, data: bytes, ext: str = "png") -> None:
    (folder / f"{IDS[0]}.png").unlink()
    (folder / f"{IDS[0]}.{ext}").write_bytes(data)


def _symlink_out(folder: Path) -> None:
    outside = folder.parent / "outside.png"
    outside.write_bytes(png(pixels(9)))
    (folder / f"{IDS[0]}.png").unlink()
    (folder / f"{IDS[0]}.png").symlink_to(outside)


def _fifo(folder: Path) -> None:
    (folder / f"{IDS[0]}.png").unlink()
    os.mkfifo(folder / f"{IDS[0]}.png")


def _transparent(folder: Path) -> None:
    rgba = pixels(3, channels=4)
    rgba[0, 0, 3] = 0
    _replace(folder, png(rgba))


def _animated(folder: Path) -> None:
    buf = io.BytesIO()
    frames = [Image.fromarray(pixels(i)) for i in range(2)]
    frames[0].save(buf, format="PNG", save_all=True, append_images=frames[1:])
    _replace(folder, buf.getvalue())


def _all_three(folder: Path) -> None:
    (folder / f"{IDS[0]}.png").unlink()
    (folder / "stranger.png").write_bytes(png(pixels(7)))
    (folder / f"{IDS[1]}.jpg").write_bytes(jpeg(pixels(8)))


FOLDER_CASES = {
    "missing cell": (lambda d: (d / f"{IDS[0]}.png").unlink(), f"1 missing ({IDS[0]})"),
    "extra image": (lambda d: (d / "stranger.png").write_bytes(png(pixels(7))), "1 extra (stranger.png)"),
    "duplicate cell": (lambda d: (d / f"{IDS[1]}.jpg").write_bytes(jpeg(pixels(8))),
                       f"1 duplicated ({IDS[1]} ({IDS[1]}.jpg + {IDS[1]}.png))"),
    "missing, extra and duplicate in one line": (_all_three, "1 missing (awe-0-"),
    "other format for a cell": (lambda d: _replace(d, b"GIF89a", "gif"), f"not read, not .png/.jpg/.jpeg/.webp: {IDS[0]}.gif"),
    "animated image": (_animated, "is animated (2 frames)"),
    "not an image": (lambda d: _replace(d, b"hello, I am text"), "is not a PNG, JPEG or WebP image"),
    "truncated image": (lambda d: _replace(d, png(pixels(5))[:300]), "is truncated or damaged"),
    "decompression bomb": (lambda d: _replace(d, bomb_png()), "(a decompression bomb?)"),
    "symlink outside the folder": (_symlink_out, "point outside it or nowhere"),
    "broken symlink": (lambda d: ((d / f"{IDS[0]}.png").unlink(), (d / f"{IDS[0]}.png").symlink_to(d / "nope.png")),
                       "point outside it or nowhere"),
    "not a regular file": (_fifo, "are not regular files"),
    "CMYK": (lambda d: _replace(d, jpeg(pixels(4), "CMYK"), "jpg"), "is CMYK"),
    "16-bit RGB": (lambda d: _replace(d, rgb16_png()), "has 16 bits per channel"),
    "16-bit grey": (lambda d: _replace(d, png(np.zeros((32, 32), np.uint16) + 300)), "has 16 bits per channel"),
    "transparent pixels": (_transparent, "has transparent pixels"),
    "extension names another format": (lambda d: _replace(d, png(pixels(6)), "jpg"), "holds a PNG image, not JPEG"),
    "bad submission.json": (lambda d: (d / "submission.json").write_text('{"plan_latents": "yes"}'),
                            "plan_latents is 'yes'"),
    "submission.json of another protocol": (lambda d: (d / "submission.json").write_text('{"protocol": "abc"}'),
                                            "were made for protocol 'abc'"),
}


@pytest.mark.parametrize("case", sorted(FOLDER_CASES))
def test_bad_folder_is_refused_in_one_line_and_nothing_is_written(case, zoo_dir, tmp_path, capsys, isolated_cache):
    mutate, message = FOLDER_CASES[case]
    folder = write_folder(tmp_path / "sub", IDS)
    mutate(folder)
    assert cli(run_argv(zoo_dir, tmp_path / "run", f"folder:x={folder}")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("emobench: error:") and err.count("\n") == 0, err
    assert message in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("spec, message", [
    ("folder:x={missing}", "does not exist"),
    ("folder:sd={folder}", "names its row 'sd', the name of an installed method"),
    ("folder:a/b={folder}", "the row name 'a/b' must be"),
    ("folder:{folder}", "write folder:NAME=DIR"),
    ("folder:x={folder}:strict_size=true:{big}", None),
    ("folder:x={folder},folder:x={other}", "two methods of the run are named 'x'"),
])
def test_bad_folder_spec(spec, message, zoo_dir, tmp_path, capsys, isolated_cache):
    folder, other = write_folder(tmp_path / "sub", IDS), write_folder(tmp_path / "other", IDS)
    if "{big}" in spec:   # strict_size refuses another size instead of resizing it
        (folder / f"{IDS[0]}.png").write_bytes(png(pixels(1, size=64)))
        spec, message = spec.replace(":{big}", ""), "is 64x64, the zoo's images are 32x32 (strict_size)"
    spec = spec.format(folder=folder, other=other, missing=tmp_path / "nope")
    assert cli(run_argv(zoo_dir, tmp_path / "run", spec)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("emobench: error:") and err.count("\n") == 0 and message in err, err
    assert not (tmp_path / "run").exists()


def test_image_over_the_size_limit(zoo_dir, tmp_path, capsys, isolated_cache, monkeypatch):
    monkeypatch.setattr("baselines.submission.images.MAX_IMAGE_BYTES", 1000)
    folder = write_folder(tmp_path / "sub", IDS)
    assert cli(run_argv(zoo_dir, tmp_path / "run", f"folder:x={folder}")) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "over the 1000 B limit per image" in err, err
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------------------------------------ bundles

@pytest.fixture(scope="module")
def good_bundle(zoo_dir, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("good-bundle")
    mp = pytest.MonkeyPatch()
    mp.setenv("EMOBENCH_CACHE", str(root / "cache"))
    try:
        folder = write_folder(root / "good", IDS)
        assert cli(run_argv(zoo_dir, root / "run", f"folder:good={folder}", "--no-score")) == 0
        assert cli(["bundle", str(root / "run"), "--method", "good", "--out", str(root / "good.zip")]) == 0
    finally:
        mp.undo()
    return root / "good.zip"


def rewrite(src: Path, dst: Path, drop: str = "", add: dict | None = None, symlink: str = "") -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename != drop and info.filename not in (add or {}):
                zout.writestr(info, zin.read(info))
        for name, data in (add or {}).items():
            zout.writestr(name, data)
        if symlink:
            zi = zipfile.ZipInfo(symlink)
            zi.external_attr = (0o120777 << 16)
            zout.writestr(zi, "/etc/passwd")
    return dst


BUNDLE_CASES = {
    "entry with ..": (lambda g, d: rewrite(g, d, add={"images/../../evil.png": b"x"}), "unsafe entry name"),
    "absolute entry": (lambda g, d: rewrite(g, d, add={"/tmp/abs.png": b"x"}), "unsafe entry name"),
    "symlink entry": (lambda g, d: rewrite(g, d, symlink="images/link.png"), "has a symlink entry"),
    "not a zip": (lambda g, d: (d.write_bytes(b"PK\x03\x04 not really"), d)[1], "is not a readable zip file"),
    "no bundle.json": (lambda g, d: rewrite(g, d, drop="bundle.json"), "has no bundle.json"),
    "missing image": (lambda g, d: rewrite(g, d, drop=f"images/{IDS[0]}.png"), f"1 missing ({IDS[0]})"),
    "altered image": (lambda g, d: rewrite(g, d, add={f"images/{IDS[0]}.png": png(pixels(99))}),
                      "differ from its bundle.json sha256"),
    "truncated image": (lambda g, d: rewrite(g, d, add={f"images/{IDS[0]}.png": png(pixels(99))[:200]}),
                        "is truncated or damaged"),
}


@pytest.mark.parametrize("case", sorted(BUNDLE_CASES))
def test_bad_bundle_is_refused_in_one_line_and_nothing_is_written(case, good_bundle, zoo_dir, tmp_path, capsys,
                                                                   isolated_cache):
    make, message = BUNDLE_CASES[case]
    bundle = make(good_bundle, tmp_path / "b.zip")
    assert cli(run_argv(zoo_dir, tmp_path / "run", f"bundle:{bundle}")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("emobench: error:") and err.count("\n") == 0 and message in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("limit, message", [("MAX_BUNDLE_BYTES", "over the 1000 B limit"),
                                            ("MAX_ENTRIES", "entries, over the 3 limit")])
def test_oversized_bundle(limit, message, good_bundle, zoo_dir, tmp_path, capsys, isolated_cache, monkeypatch):
    monkeypatch.setattr(f"baselines.submission.sources.{limit}", 1000 if limit == "MAX_BUNDLE_BYTES" else 3)
    assert cli(run_argv(zoo_dir, tmp_path / "run", f"bundle:{good_bundle}")) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err, err
    assert not (tmp_path / "run").exists()


def test_good_bundle_scores(good_bundle, zoo_dir, tmp_path, isolated_cache):
    """The table's control row: the untouched bundle is accepted."""
    assert cli(run_argv(zoo_dir, tmp_path / "run", f"bundle:{good_bundle}", "--no-score")) == 0
    assert methods_json(tmp_path / "run")["good"]["status"] == "ok"


# ------------------------------------------------------------------------------------------- converted, not refused

def _exif_rotated(arr: np.ndarray) -> bytes:
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6   # rotate 90° clockwise to display
    buf = io.BytesIO()
    im.save(buf, format="PNG", exif=exif)
    return buf.getvalue()


def _palette(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).quantize(colors=16).save(buf, format="PNG")
    return buf.getvalue()


CONVERTED = {   # file bytes, what the run stores (uint8 HxWx3; None: computed in the test), provenance counts
    "palette": (_palette, None, {"converted": {"P→RGB": 1}}),
    "grey": (lambda a: png(a[:, :, 0]), lambda a: np.repeat(a[:, :, :1], 3, axis=2), {"converted": {"L→RGB": 1}}),
    "opaque alpha": (lambda a: png(np.dstack([a, np.full(a.shape[:2], 255, np.uint8)])), lambda a: a,
                     {"converted": {"RGBA (opaque)→RGB": 1}}),
    "exif orientation": (_exif_rotated, lambda a: np.rot90(a, -1), {"converted": {"EXIF orientation": 1}}),
    "webp (lossless)": (lambda a: _webp(a), lambda a: a, {"converted": {}, "resized": {}}),
    "jpeg": (lambda a: jpeg(a), None, {"converted": {}, "resized": {}}),
    "larger, resized": (lambda a: png(np.kron(a, np.ones((2, 2, 1), np.uint8))), None, {"resized": {"64x64": 1}}),
}


def _webp(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="WEBP", lossless=True)
    return buf.getvalue()


@pytest.mark.parametrize("case", sorted(CONVERTED))
def test_converted_images_are_accepted_and_recorded(case, zoo_dir, tmp_path, isolated_cache):
    make, expect, facts = CONVERTED[case]
    folder = write_folder(tmp_path / "sub", IDS)
    original = pixels(0)
    (folder / f"{IDS[0]}.png").unlink()
    ext = {"webp (lossless)": "webp", "jpeg": "jpg"}.get(case, "png")
    (folder / f"{IDS[0]}.{ext}").write_bytes(make(original))
    assert cli(run_argv(zoo_dir, tmp_path / "run", f"folder:x={folder}", "--no-score")) == 0
    prov = methods_json(tmp_path / "run")["x"]["provenance"]
    for key, counts in facts.items():
        assert prov[key] == counts
    rec = next(json.loads(x) for x in (tmp_path / "run" / "manifest.jsonl").read_text().splitlines()
               if json.loads(x)["seed"] == 0 and json.loads(x)["emotion"] == EMOTIONS[0])
    stored = (load_image(tmp_path / "run" / rec["path"]) * 255).round().byte().permute(1, 2, 0).numpy()
    if case in ("palette", "jpeg"):   # what Pillow decodes (a palette lookup; the JPEG decoder)
        expect_arr = np.asarray(Image.open(io.BytesIO(make(original))).convert("RGB"))
    elif case == "larger, resized":   # the named filter: Lanczos back to 32x32
        big = Image.fromarray(np.kron(original, np.ones((2, 2, 1), np.uint8)))
        expect_arr = np.asarray(big.resize((32, 32), Image.Resampling.LANCZOS))
    else:
        expect_arr = expect(original)
    assert np.array_equal(stored, expect_arr)


# ------------------------------------------------------------------------------------------- plan export

@pytest.mark.parametrize("extra, message", [
    (["--n-per-emotion", "0"], "--n-per-emotion must be within 1.."),
    (["--emotions", "joy"], "unknown emotion 'joy'"),
    (["--track", "content", "--contents", "unicorn"], "content 'unicorn' is not in the zoo's content list"),
    (["--from-run", "{tmp}/nope"], "has no readable config.json"),
    (["--out", "{tmp}/full"], "exists and is not an empty folder"),
])
def test_bad_plan_export_is_refused_in_one_line(extra, message, zoo_dir, tmp_path, capsys):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    extra = [a.format(tmp=tmp_path) for a in extra]
    out = [] if "--out" in extra else ["--out", str(tmp_path / "plan")]
    assert cli(["plan", "export", "--zoo", str(zoo_dir), *out, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("emobench: error:") and err.count("\n") == 0 and message in err, err
    assert not (tmp_path / "plan").exists() and (tmp_path / "full" / "keep.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []   # no temp folder left
