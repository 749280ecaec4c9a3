"""Image storage formats (``--image-format png|webp|jpeg``) and the background writer.

PNG stays the default and byte-identical to what the store always wrote (same encoder settings, same keys, same
config hash and protocol fingerprint); WebP round-trips the exact pixels; JPEG is lossy and says so in its
protocol. Runs in different formats have different protocol fingerprints, so they never share a column."""
from __future__ import annotations

import io
import json
import threading

import pytest
import torch
from PIL import Image

from emobench.api import Cell
from emobench.errors import EmobenchError
from emobench.io.images import IMAGE_FORMATS, decode_image, encode_pixels, png_bytes, to_hwc_uint8, to_uint8
from emobench.rundir.layout import load_images, read_manifest
from emobench.run import runner
from emobench.run.store import ImageStore, image_key
from emobench.run.writer import BackgroundWriter
from emobench.spec import protocol
from emobench.spec.config import DEFAULT_TEMPLATE, merge


def _old_png(image: torch.Tensor) -> bytes:
    """The store's PNG encoding before formats existed (the bytes every committed run holds)."""
    buf = io.BytesIO()
    Image.fromarray(to_uint8(image).permute(1, 2, 0).cpu().numpy()).save(buf, format="PNG", optimize=False,
                                                                           compress_level=6)
    return buf.getvalue()


def test_png_bytes_are_unchanged_and_default():
    torch.manual_seed(0)
    for shape in [(3, 32, 32), (3, 64, 48)]:
        x = torch.rand(*shape)
        assert png_bytes(x) == _old_png(x) == encode_pixels(to_hwc_uint8(x), "png")
    cfg = merge({"methods": "sd"})
    assert cfg.image_format == "png" and "image_format" not in cfg.hashed()   # old runs keep their hash
    assert merge({"methods": "sd", "image_format": "webp"}).config_hash != cfg.config_hash


@pytest.mark.parametrize("fmt", sorted(IMAGE_FORMATS))
def test_each_format_round_trips(fmt, tmp_path):
    torch.manual_seed(1)   # a smooth image, as generated ones are (white noise is JPEG's worst case)
    x = torch.nn.functional.interpolate(torch.rand(1, 3, 6, 5), size=(48, 40), mode="bilinear")[0]
    store = ImageStore(tmp_path, fmt)
    cell = Cell("fear", DEFAULT_TEMPLATE, 0)
    key = image_key("m", None, "w", cell)
    rec = store.put(key, x, method="m", cell=cell, prompt="an image of fear")
    assert rec.path == f"images/{key}{IMAGE_FORMATS[fmt].suffix}" and (tmp_path / rec.path).is_file()
    assert store.lookup(key) == rec
    back = load_images([rec], tmp_path)[0]
    exact = (x * 255).round() / 255
    if IMAGE_FORMATS[fmt].lossless:
        assert torch.equal(back, exact)
    else:   # JPEG q95: close, never exact
        assert 0 < (back - exact).abs().mean() < 2 / 255
    assert ImageStore(tmp_path, "png" if fmt != "png" else "webp").lookup(key) is None   # another format: not it


def test_unknown_format_is_one_line():
    with pytest.raises(EmobenchError, match="unknown image format 'gif'"):
        merge({"methods": "sd", "image_format": "gif"})


class _SlowStore(ImageStore):
    """A store whose encoder waits for a signal: proves the generation loop does not wait for it."""

    def __init__(self, run_dir, gate: threading.Event):
        super().__init__(run_dir)
        self.gate = gate

    def put_pixels(self, key, pixels, **kw):
        assert self.gate.wait(10)
        return super().put_pixels(key, pixels, **kw)


def test_background_writer_never_blocks_the_loop_and_keeps_every_image(tmp_path):
    gate = threading.Event()
    store = _SlowStore(tmp_path, gate)
    writer = BackgroundWriter(store, workers=1, max_pending=8)
    cells = [Cell("awe", DEFAULT_TEMPLATE, s) for s in range(4)]
    pixels = to_hwc_uint8(torch.rand(4, 3, 8, 8))
    for i, c in enumerate(cells):   # returns at once although nothing can be encoded yet
        writer.submit(c, image_key("m", None, "w", c), pixels[i], method="m", cell=c, prompt="p")
    assert not list((tmp_path / "images").glob("*.png")) if (tmp_path / "images").exists() else True
    gate.set()
    written, error = writer.close()
    assert error is None and set(written) == set(cells)
    for c, rec in written.items():
        assert store.lookup(rec.key) == rec


def test_background_writer_reports_a_failed_write_after_storing_the_rest(tmp_path):
    class Failing(ImageStore):
        def put_pixels(self, key, pixels, **kw):
            if kw["cell"].seed == 1:
                raise OSError(28, "No space left on device")
            return super().put_pixels(key, pixels, **kw)

    writer = BackgroundWriter(Failing(tmp_path), workers=1)
    for s in range(3):
        c = Cell("awe", DEFAULT_TEMPLATE, s)
        try:
            writer.submit(s, image_key("m", None, "w", c), to_hwc_uint8(torch.rand(3, 8, 8)), method="m", cell=c,
                          prompt="p")
        except OSError:
            break
    written, error = writer.close()
    assert isinstance(error, OSError) and 0 in written and 1 not in written


@pytest.fixture(scope="module")
def runs(zoo, zoo_dir, tmp_path_factory):
    """The same sd run stored as png, webp and jpeg."""
    out = {}
    for fmt in ("png", "webp", "jpeg"):
        d = tmp_path_factory.mktemp(fmt) / "run"
        cfg = merge({"zoo": str(zoo_dir), "methods": "sd", "emotions": "awe,fear", "n_per_emotion": 2,
                     "out": str(d), "metrics": "emo-a", "image_format": fmt})
        res = runner.execute(cfg, zoo=zoo, progress=False)
        assert [o.status for o in res.outcomes] == ["ok"]
        out[fmt] = d
    return out


def test_runs_record_their_format_in_the_protocol(runs):
    protos = {f: protocol.read(d) for f, d in runs.items()}
    assert {f: p.image_format for f, p in protos.items()} == {
        "png": "png-uint8-round", "webp": "webp-lossless-uint8-round", "jpeg": "jpeg-q95-444-uint8-round"}
    assert len({p.fingerprint for p in protos.values()}) == 3   # never one column
    assert any("image_format" in d for d in protos["png"].differences(protos["webp"]))
    for fmt, d in runs.items():
        recs = read_manifest(d)
        assert recs and all(r.path.endswith(IMAGE_FORMATS[fmt].suffix) for r in recs)
        rows = json.loads((d / "summary.json").read_text())["rows"]
        assert {r["protocol"] for r in rows} == {protos[fmt].fingerprint}


def test_formats_share_keys_and_webp_keeps_the_pixels(runs):
    recs = {f: sorted(read_manifest(d), key=lambda r: r.key) for f, d in runs.items()}
    assert [r.key for r in recs["png"]] == [r.key for r in recs["webp"]] == [r.key for r in recs["jpeg"]]
    png = load_images(recs["png"], runs["png"])
    assert torch.equal(png, load_images(recs["webp"], runs["webp"]))
    err = (png - load_images(recs["jpeg"], runs["jpeg"])).abs().mean()
    assert 0 < err < 4 / 255   # the tiny zoo draws near-noise: JPEG's hardest case


def test_a_resumed_webp_run_regenerates_nothing(runs, zoo):
    d = runs["webp"]
    before = {p.name: p.stat().st_mtime_ns for p in (d / "images").iterdir()}
    res = runner.execute(merge({"zoo": str(json.loads((d / "config.json").read_text())["zoo"]),
                                "methods": "sd", "emotions": "awe,fear", "n_per_emotion": 2, "metrics": "emo-a",
                                "image_format": "webp"}), resume=d, zoo=zoo, progress=False)
    assert res.outcomes[0].n_generated == 0
    assert before == {p.name: p.stat().st_mtime_ns for p in (d / "images").iterdir()}


def test_decode_reads_every_format():
    px = to_hwc_uint8(torch.rand(3, 16, 16))
    for fmt in IMAGE_FORMATS:
        assert decode_image(encode_pixels(px, fmt)).shape == (3, 16, 16)


def test_a_resume_that_generates_nothing_keeps_the_report(zoo_dir, tmp_path, isolated_cache, capsys):
    """methods.json's per-invocation fields (wall_s, n_generated, artifact_source) change on every resume and
    no report shows them: they must not make a no-op resume re-render every figure."""
    from emobench.cli import main as cli

    out = tmp_path / "run"
    argv = ["run", "--zoo", str(zoo_dir), "--methods", "sd", "--emotions", "awe,fear", "--n-per-emotion", "2",
            "--metrics", "emo-a", "--out", str(out), "--no-progress"]
    assert cli(argv) == 0
    before = (out / "index.html").stat().st_mtime_ns
    capsys.readouterr()
    assert cli(["run", "--resume", str(out), "--no-progress"]) == 0
    assert "report: unchanged" in capsys.readouterr().out
    assert json.loads((out / "methods.json").read_text())["sd"]["n_generated"] == 0
    assert (out / "index.html").stat().st_mtime_ns == before
