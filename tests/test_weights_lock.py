"""The weight lock (emobench/zoo/weights.lock) and `emobench zoo verify paper.toml`: pinned files verify as
official, a planted wrong file is named as differing (exit 1), a file nothing is published for is "not pinned",
hashes are cached by size + mtime (``--rehash`` reads again), and runs record the statuses in zoo.json."""
from __future__ import annotations

import hashlib
import json
import shutil

import pytest

import emobench.zoo.weights_lock as wl
from emobench.cli import main as cli_main
from emobench.testing.tiny import tiny_zoo
from emobench.zoo.load import load_zoo

from support.paper_fixtures import write_judge_files, write_paper_toml

UNET = "unet/diffusion_pytorch_model.safetensors"


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_shipped_lock_pins_only_published_files():
    pins = wl.read_lock()
    by_part = {}
    for p in pins:
        by_part.setdefault(p.part, set()).add(p.file)
        assert p.source and p.name and (len(p.sha256) == 64 or len(p.prefix) >= 8)
    assert by_part["pipeline"] == {UNET, "vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"}
    assert by_part["clip"] == {"model.safetensors"}
    assert {"judges.object", "judges.lpips", "judges.fid"} <= set(by_part)
    # nothing is published for these: they must stay "not pinned", never carry an invented digest
    assert not {"judges.scene", "judges.emotion", "panel.emogen-official"} & set(by_part)


@pytest.fixture
def paper(tmp_path_factory, tmp_path):
    """A paper TOML over a private copy of the tiny zoo's parts (files may be planted in it)."""
    src = tiny_zoo(tmp_path_factory)
    root = tmp_path / "paper"
    shutil.copytree(src / "pipeline", root / "sd")
    toml = write_paper_toml(root / "paper.toml", src, write_judge_files(root / "files"))
    toml.write_text(toml.read_text().replace(f'path = "{src / "pipeline"}"', f'path = "{root / "sd"}"'))
    return toml


def _lock_pinning(tmp_path, sd, judges) -> str:
    """A lock whose pins are this zoo's own files (as if they were the published ones)."""
    lock = tmp_path / "weights.lock"
    lock.write_text(f'''[[pin]]
part = "pipeline"
file = "{UNET}"
sha256 = "{_sha(sd / UNET)}"
name = "the tiny UNet"
source = "test"

[[pin]]
part = "judges.object"
file = "resnet50-0676ba61.pth"
sha256 = "{_sha(judges / "resnet18-imagenet.pth")}"
name = "the tiny object judge"
source = "test"
''')
    return str(lock)


def test_verify_accepts_pinned_files_and_names_a_planted_wrong_one(paper, tmp_path, monkeypatch, capsys):
    sd, judges = paper.parent / "sd", paper.parent / "files"
    monkeypatch.setattr(wl, "LOCK_FILE", wl.Path(_lock_pinning(tmp_path, sd, judges)))
    assert cli_main(["zoo", "verify", str(paper)]) == 0
    out = capsys.readouterr().out
    assert f"[pipeline] {sd / UNET}: official (the tiny UNet)" in out
    assert "[judges.object]" in out and "official (the tiny object judge)" in out
    assert "[judges.scene]" in out and "not pinned" in out.split("[judges.scene]")[1].splitlines()[0]
    # plant a wrong UNet: same size, one byte changed
    data = bytearray((sd / UNET).read_bytes())
    data[-1] ^= 0xFF
    (sd / UNET).write_bytes(bytes(data))
    assert cli_main(["zoo", "verify", str(paper)]) == 1
    captured = capsys.readouterr()
    line = [ln for ln in captured.out.splitlines() if ln.startswith("[pipeline]")][0]
    assert f"{sd / UNET}: DIFFERS" in line and _sha(sd / UNET)[:16] in line
    assert str(sd / UNET) in captured.err and "differs" in captured.err
    (sd / UNET).unlink()   # a pinned file that is absent is named too
    assert cli_main(["zoo", "verify", str(paper)]) == 1 and "MISSING" in capsys.readouterr().out


def test_a_renamed_official_file_still_verifies_and_a_misnamed_one_differs(tmp_path):
    f = tmp_path / "anything.pth"
    f.write_bytes(b"weights")
    pins = [wl.Pin("judges.object", "resnet50-0676ba61.pth", "R50", "test", sha256=_sha(f))]
    assert wl.check_part("judges.object", f, pins)[0].status == wl.OFFICIAL
    wrong = tmp_path / "resnet50-0676ba61.pth"
    wrong.write_bytes(b"other weights")
    assert wl.check_part("judges.object", wrong, pins)[0].status == wl.DIFFERS
    other = tmp_path / "my-own.pth"
    other.write_bytes(b"fine-tuned")
    assert wl.check_part("judges.object", other, pins)[0].status == wl.NOT_PINNED
    prefix = [wl.Pin("judges.lpips", "alexnet-owt-x.pth", "A", "t", prefix=_sha(other)[:8])]
    assert wl.check_part("judges.lpips", other, prefix)[0].status == wl.OFFICIAL


def test_hashes_are_cached_by_size_and_mtime(tmp_path, monkeypatch):
    import emobench.zoo.hashing as hashing

    big = tmp_path / "big.safetensors"
    big.write_bytes(b"\0" * (hashing.PERSIST_MIN_BYTES + 1))
    calls = []
    real = hashing.sha256_file
    monkeypatch.setattr(hashing, "sha256_file", lambda p: calls.append(p) or real(p))
    monkeypatch.setattr(hashing, "_HASH_CACHE", {})
    first = hashing.file_sha256(big)
    monkeypatch.setattr(hashing, "_HASH_CACHE", {})   # a new process: only the on-disk cache is left
    monkeypatch.setattr(hashing, "_DISK", None)
    assert hashing.file_sha256(big) == first and len(calls) == 1
    assert hashing.file_sha256(big, use_cache=False) == first and len(calls) == 2   # --rehash
    big.write_bytes(b"\1" * (hashing.PERSIST_MIN_BYTES + 1))   # rewritten: new mtime, hashed again
    assert hashing.file_sha256(big) != first and len(calls) == 3


def test_runs_record_the_locks_verdicts_in_zoo_json(paper):
    from emobench.cli import main as cli

    assert cli(["zoo", "fit-judges", "--zoo", str(paper)]) == 0
    zoo = load_zoo(str(paper), lazy=True)
    facts = zoo.facts()["official"]
    assert facts["pipeline"].startswith("differs: diffusion_pytorch_model.safetensors")   # not SD 1.5's UNet
    assert facts["judges.scene"] == "not pinned" and facts["judges.emotion"] == "not pinned"
    assert json.loads(json.dumps(facts)) == facts
