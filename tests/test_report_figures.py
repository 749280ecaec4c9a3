"""figures/: every figure the run supports, as PNG and PDF, with identical bytes when regenerated."""
from __future__ import annotations

import json
import re
import zlib

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


EXPECTED = {"comparison_grid", "confusion", "scatter_emoa_semd", "emotion_transfer", "emotion_fusion",
            "bars_fid", "bars_kid", "bars_lpips", "bars_emo-a", "bars_sem-c", "bars_sem-d", "bars_clip-score"}


def test_expected_figures_png_and_pdf(figs):
    run, tmp, res = figs
    names = {f.split("/", 1)[1].rsplit(".", 1)[0] for f in res.files}
    assert EXPECTED | {f"column/{n}" for n in EXPECTED} <= names  # both print sizes
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
    from emobench.report.colors import method_styles
    from emobench.report.figstyle import SIZES
    from emobench.report.figures import fusion_grid, transfer_grid
    from emobench.report.output import AtomicOutput
    from emobench.rundir.results import load_run

    data = load_run(make_run(tmp_path / "run", methods=("sd", "emogen"), emotions=EMOTIONS[:2], n_per_emotion=2))
    styles = method_styles(["sd", "emogen"])
    with AtomicOutput(tmp_path / "out") as out:
        for size in SIZES:
            assert not transfer_grid(data, ["sd", "emogen"], styles, out, size)
            assert not fusion_grid(data, ["sd", "emogen"], styles, out, size)
    assert not (tmp_path / "out" / "figures").exists()


# ---------------------------------------------------------------- print size and fonts

def pdf_facts(data: bytes) -> tuple[float, float, list[float]]:
    """(width in, height in, every font size in pt) read back from a PDF matplotlib wrote: the page box
    and the size operand of each ``Tf`` in the (deflated) content streams."""
    box = re.search(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]", data)
    assert box, "no MediaBox"
    x0, y0, x1, y1 = (float(v) for v in box.groups())
    sizes: list[float] = []
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        raw = m.group(1)
        try:
            raw = zlib.decompress(raw)
        except zlib.error:
            pass
        sizes += [float(v) for v in re.findall(rb"/F\d+\s+([\d.]+)\s+Tf", raw)]
    return (x1 - x0) / 72, (y1 - y0) / 72, sizes


def test_every_figure_at_column_and_text_width_with_no_text_under_7pt(figs):
    from emobench.report.figstyle import COLUMN, DPI, MIN_PT, TEXT

    run, tmp, res = figs
    pdfs = [f for f in res.files if f.endswith(".pdf")]
    widths = {}
    for f in pdfs:
        w, h, sizes = pdf_facts((tmp / "one" / f).read_bytes())
        widths[f] = w
        assert sizes, f"{f}: no text found"
        assert min(sizes) >= MIN_PT, f"{f}: text at {min(sizes)} pt (< {MIN_PT} pt)"
        expected = COLUMN.width if f.startswith("figures/column/") else TEXT.width
        assert w == pytest.approx(expected, abs=0.01), f"{f} is {w:.3f} in wide"
        assert 0.5 < h < 9.0, f"{f} is {h:.2f} in tall"
        with Image.open(tmp / "one" / f.replace(".pdf", ".png")) as im:  # the PNG has the same print size
            assert im.size[0] == pytest.approx(expected * DPI, abs=2)
            assert im.info["dpi"][0] == pytest.approx(DPI, abs=0.5)
    assert {round(w, 3) for w in widths.values()} == {COLUMN.width, TEXT.width}


def test_pdf_font_reader_sees_small_text(tmp_path):
    """The font check can fail: a 5 pt label is read back as 5 pt."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.25, 1))
    fig.text(0.1, 0.5, "tiny", fontsize=5)
    fig.text(0.5, 0.5, "ok", fontsize=8)
    fig.savefig(tmp_path / "t.pdf", format="pdf")
    w, h, sizes = pdf_facts((tmp_path / "t.pdf").read_bytes())
    assert (w, h) == (3.25, 1) and sorted(sizes) == [5, 8]


# ---------------------------------------------------------------- content of the figures

@pytest.fixture
def captured(monkeypatch):
    """Figures as drawn (before saving), by saved name."""
    from emobench.report.figures import bars, confusion, grids, scatter

    figs: dict[str, object] = {}

    def fake_save(fig, out, name, size):
        figs[f"{size.prefix}{name}"] = fig
        return f"{size.prefix}{name}"

    for module in (bars, confusion, grids, scatter):   # each figure module saves through its own name
        monkeypatch.setattr(module, "save", fake_save)
    return figs


def _texts(fig) -> list[str]:
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _two_template_run(tmp_path, blind=("emogen",)):
    """A run on two templates where the methods in ``blind`` store the same prompt for both templates."""
    run = make_run(tmp_path / "run", methods=("sd", "emogen", "textual-inversion"), emotions=EMOTIONS[:2],
                   n_per_emotion=4, templates=("an image of {emotion}", "a photo of {emotion}"))
    lines = []
    for line in (run / "manifest.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["method"] in blind:
            rec["prompt"] = f"<{rec['emotion']}>"   # what a method that ignores the template stores
        lines.append(json.dumps(rec))
    (run / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return run


def test_template_blind_method_found_from_prompts_and_drawn_once(tmp_path, captured):
    from emobench.report.figures import template_blind_methods, template_numbers, write_figures
    from emobench.report.output import AtomicOutput
    from emobench.rundir.results import load_run

    data = load_run(_two_template_run(tmp_path))
    assert template_blind_methods(data) == {"emogen"}          # from the stored prompts, not the name
    # T1/T2 follow the config's order, not the alphabet ("a photo" < "an image").
    assert template_numbers(data) == {"an image of {emotion}": 1, "a photo of {emotion}": 2}
    with AtomicOutput(tmp_path / "out") as out:
        write_figures(data, out)
    for name in ("comparison_grid", "column/comparison_grid"):
        texts = _texts(captured[name])
        assert "emogen†" in texts and "sd" in texts
        assert any("T1 s0" in t or "T1\ns0" in t for t in texts)   # other methods: template and seed
        note = " ".join(" ".join(texts).split())   # wrapped lines joined
        assert "does not use the template" in note and "T1 = \u201can image of {emotion}\u201d" in note
    # Renamed, the same data still is template-blind: nothing depends on the name "emogen".
    data2 = load_run(_two_template_run(tmp_path / "b", blind=("textual-inversion",)))
    assert template_blind_methods(data2) == {"textual-inversion"}


def test_bars_mark_significance_and_keep_7pt(figs, tmp_path, captured):
    from matplotlib.text import Text

    from emobench.report.figstyle import MIN_PT
    from emobench.report.figures import SIGNIFICANT, _p_lookup, write_figures
    from emobench.report.output import AtomicOutput
    from emobench.rundir.results import load_run

    run, _, _ = figs
    data = load_run(run)
    with AtomicOutput(tmp_path / "out") as out:
        write_figures(data, out)
    for name, fig in captured.items():
        sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
        assert min(sizes) >= MIN_PT, name
    p = _p_lookup(data)
    n_sig = sum(1 for (m, met, e), v in p.items() if met == "emo-a" and v < SIGNIFICANT and m != data.baseline
                and m in data.method_names())
    stars = [t for t in _texts(captured["bars_emo-a"]) if t == "*"]
    assert len(stars) == n_sig and n_sig > 0


def test_axis_range_zooms_only_when_values_sit_high():
    from emobench.report.figures import axis_range

    bottom, top, broken = axis_range([0.82, 0.9], [0.97, 1.0])      # Sem-C-like: not from 0
    assert 0.7 <= bottom < 0.82 and top > 1.0 and broken
    bottom, top, broken = axis_range([0.0, 20.0], [40.0, 60.0])     # a zero value: axis from 0
    assert bottom == 0.0 and not broken
    bottom, top, broken = axis_range([-3.0, 1.0], [2.0, 5.0])       # negatives stay visible
    assert bottom < -3.0 and not broken


def test_method_styles_read_on_white_and_in_greyscale():
    from emobench.report.colors import PALETTE, method_styles
    from emobench.report.figstyle import luminance

    assert all(luminance(c) < 0.6 for c in PALETTE)              # no light yellow on white
    names = [f"m{i}" for i in range(len(PALETTE) + 3)]
    styles = method_styles(names)
    first = [styles[m] for m in names[:len(PALETTE)]]
    assert len({s.hatch for s in first}) == len({s.marker for s in first}) == len({s.colour for s in first}) \
        == len(PALETTE)                                         # greyscale: hatch and marker tell them apart
    assert len({(s.colour, s.hatch) for s in styles.values()}) == len(names)  # beyond the palette: new hatch
    # Styles follow the order given, never a method's name: a plugin is styled like a built-in.
    assert method_styles(["sd", "emogen"])["emogen"] == method_styles(["x", "y"])["y"]
    assert method_styles(["real (control)"])["real (control)"].colour == "#999999"


def test_figures_and_the_console_name_methods_by_display_name(tmp_path, monkeypatch):
    """Tables print "Stable Diffusion (`sd`)"; legends, panel titles, grid labels and the console table use
    the same declared names, never the bare plugin id."""
    from matplotlib.text import Text

    from emobench.report.console import to_text
    from emobench.report.figures import bars, confusion, grids, scatter
    from emobench.report.leaderboard import build
    from emobench.rundir.results import load_run

    run_dir = make_run(tmp_path / "run", methods=("sd", "emogen"), emotions=EMOTIONS[:2], n_per_emotion=2)
    methods = json.loads((run_dir / "methods.json").read_text())
    methods["sd"]["display_name"], methods["emogen"]["display_name"] = "Plain Diffusion", "Emotion Generator"
    (run_dir / "methods.json").write_text(json.dumps(methods))
    texts: dict[str, list[str]] = {}
    for mod in (bars, confusion, grids, scatter):
        real = mod.save

        def spy(fig, out, name, size, _real=real):
            texts.setdefault(name, []).extend(t.get_text() for t in fig.findobj(Text))
            return _real(fig, out, name, size)

        monkeypatch.setattr(mod, "save", spy)
    build_figures([run_dir], out=tmp_path / "figs")
    for name in ("bars_emo-a", "scatter_emoa_semd", "confusion", "comparison_grid"):
        joined = "\n".join(texts[name])
        assert "Plain Diffusion" in joined and "Emotion Generator" in joined, name
        assert not re.search(r"(?m)^(sd|emogen)$", joined), f"{name} shows a bare plugin id"
    console = to_text(build(load_run(run_dir)))
    assert "Plain Diffusion (baseline)" in console and "Emotion Generator" in console
