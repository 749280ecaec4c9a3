"""figures/: every figure the run supports, as PNG and PDF, with identical bytes when regenerated."""
from __future__ import annotations

import pytest
from PIL import Image

from emobench.cli import main as cli_main
from emobench.emotions import EMOTIONS
from emobench.report import build_figures
from support.report_fixture import make_run


@pytest.fixture(scope="module")
def figs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("figs")
    run = make_run(tmp / "run", methods=("sd", "emogen", "emogen:fuse=amusement+fear"),
                   failed={"dreambooth": "crashed"}, emotions=EMOTIONS[:3], n_per_emotion=2,
                   templates=("an image of {emotion}", "{emotion} bag"))
    first = build_figures([run], out=tmp / "one")
    return run, tmp, first


def test_expected_figures_png_and_pdf(figs):
    run, tmp, res = figs
    names = {f.split("/")[1].rsplit(".", 1)[0] for f in res.files}
    assert {"comparison_grid", "confusion", "scatter_emoa_semd", "emotion_transfer", "emotion_fusion",
            "bars_fid", "bars_kid", "bars_lpips", "bars_emo-a", "bars_sem-c", "bars_sem-d",
            "bars_clip-score"} <= names
    for n in names:
        png = tmp / "one" / "figures" / f"{n}.png"
        with Image.open(png) as im:
            assert im.format == "PNG" and min(im.size) > 200
            assert "Software" not in im.info  # no version stamp: bytes do not depend on matplotlib's version
        pdf = (tmp / "one" / "figures" / f"{n}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF") and b"/CreationDate" not in pdf
        assert b"/FontFile2" in pdf  # TrueType fonts embedded: text stays vector and selectable


def test_figures_are_byte_identical_when_regenerated(figs, capsys):
    run, tmp, res = figs
    assert cli_main(["figures", str(run), "--paper", "--out", str(tmp / "two")]) == 0
    for f in res.files:
        assert (tmp / "one" / f).read_bytes() == (tmp / "two" / f).read_bytes(), f


def test_small_images_are_upscaled_nearest_neighbour(tmp_path):
    import numpy as np

    from emobench.report.figures import TILE, _tile

    checker = (np.indices((32, 32)).sum(0) % 2 * 255).astype(np.uint8)
    Image.fromarray(np.stack([checker] * 3, -1)).save(tmp_path / "c.png")
    tile = _tile(tmp_path / "c.png")
    assert tile.shape == (TILE, TILE, 3)
    assert set(np.unique(tile)) == {0, 255}          # no blurred in-between values
    assert (tile[::2, ::2] == tile[1::2, 1::2]).all()  # each source pixel became a 2×2 block


def test_no_transfer_or_fusion_figure_without_such_runs(tmp_path):
    from emobench.report.colors import method_colours
    from emobench.report.figures import fusion_grid, transfer_grid
    from emobench.report.output import AtomicOutput
    from emobench.report.rundata import load_run

    data = load_run(make_run(tmp_path / "run", methods=("sd", "emogen"), emotions=EMOTIONS[:2], n_per_emotion=2))
    colours = method_colours(["sd", "emogen"])
    with AtomicOutput(tmp_path / "out") as out:
        assert not transfer_grid(data, ["sd", "emogen"], colours, out)
        assert not fusion_grid(data, ["sd", "emogen"], colours, out)
    assert not (tmp_path / "out" / "figures").exists()
