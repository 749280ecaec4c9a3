"""How well a small zoo stands in for the paper setting, read from a finished leaderboard.

Two figures, both computed from a leaderboard CSV (``emobench report`` writes ``leaderboard.csv``):

* **calibration**: the baseline's Emo-A divided by the real-image control's Emo-A, on the same judge and
  cells. Real SD 1.5 scores 70.77 % under EmoGen's protocol; the accuracy of that protocol's judge on real
  EmoSet images was never published, so the target band 0.75–0.95 is what 70.77 % means for any real-image
  accuracy between 74.5 % and 94.4 %. The interval is conservative: the ratio of the two 95 % intervals' ends.
* **ordering**: Kendall's τ-b between the zoo's and EmoGen Table 1's Emo-A over the methods both report
  (matched by display name). With four methods one discordant pair is τ = 0.67 and even τ = 1 has an exact
  two-sided p of 1/12; the paper is one draw of each method, so the figure says whether the zoo reproduces the
  paper's ordering, not whether that ordering is right.

``emobench zoo validity LEADERBOARD`` prints both and, with ``--card ZOO_DIR``, writes them into the card.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
from scipy import stats

from emobench.errors import EmobenchError

CALIBRATION_BAND = (0.75, 0.95)
PAPER_SD_EMO_A = 0.7077          # EmoGen Table 1, Stable Diffusion, EmoGen's own judge and prompt
REAL_CONTROL = "real (control)"


@dataclass(frozen=True)
class Validity:
    source: str
    metric: str
    baseline: str
    baseline_emo_a: float
    real_emo_a: float
    calibration: float
    calibration_low: float
    calibration_high: float
    in_band: bool
    methods: list[str]
    zoo_emo_a: list[float]
    paper_emo_a: list[float]
    kendall_tau: float
    kendall_p: float

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "band": list(CALIBRATION_BAND), "paper_sd_emo_a": PAPER_SD_EMO_A}


def paper_emo_a() -> dict[str, float]:
    """EmoGen Table 1's Emo-A by display name (the reference rows the report prints at paper scale)."""
    with resources.files("emobench.report").joinpath("paper_table1.csv").open() as fh:
        table = pd.read_csv(fh)
    return dict(zip(table["method"], table["emo-a"].astype(float)))


def _leaderboard_csv(path: Path) -> Path:
    csv = path / "leaderboard.csv" if path.is_dir() else path
    if not csv.is_file():
        raise EmobenchError(f"no leaderboard CSV at {path}",
                            "pass a report folder (with leaderboard.csv) or the CSV itself, e.g. leaderboards/mini")
    return csv


def validity(path: str | Path, metric: str = "emo-a") -> Validity:
    csv = _leaderboard_csv(Path(path))
    try:
        table = pd.read_csv(csv)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise EmobenchError(f"{csv} is not a readable leaderboard CSV ({str(err).splitlines()[0][:120]})",
                            "pass the leaderboard.csv that `emobench report` wrote") from None
    try:
        return _validity(csv, table, metric)
    except (ValueError, TypeError, ZeroDivisionError, KeyError) as err:
        raise EmobenchError(f"{csv} holds values that are not numbers where {metric} and its interval belong "
                            f"({type(err).__name__}: {str(err)[:120]})",
                            "pass the leaderboard.csv that `emobench report` wrote") from None


def _validity(csv: Path, table: pd.DataFrame, metric: str) -> Validity:
    need = {"section", "method", "display_name", metric, f"{metric}_ci_low", f"{metric}_ci_high"}
    if missing := sorted(need - set(table.columns)):
        raise EmobenchError(f"{csv} has no column(s) {', '.join(missing)}",
                            f"use a leaderboard of a run scored with {metric}")
    base = table[table["section"] == "baseline"]
    real = table[table["method"] == REAL_CONTROL]
    if base.empty or real.empty:
        raise EmobenchError(f"{csv} lacks a baseline row or the real-image control",
                            "use a leaderboard of an emotion-track run with a --baseline (the default sd)")
    b, r = base.iloc[0], real.iloc[0]
    values = [float(x) for x in (b[metric], r[metric], b[f"{metric}_ci_low"], b[f"{metric}_ci_high"],
                                 r[f"{metric}_ci_low"], r[f"{metric}_ci_high"])]
    if not all(v == v and v > 0 for v in values):   # a missing value or a zero cannot be divided
        raise EmobenchError(f"{csv}: the baseline's or the real control's {metric} (or its interval) is missing or 0",
                            "use a leaderboard of a scored run with the real-image control")
    ratio = float(b[metric]) / float(r[metric])
    low, high = float(b[f"{metric}_ci_low"]) / float(r[f"{metric}_ci_high"]), \
        float(b[f"{metric}_ci_high"]) / float(r[f"{metric}_ci_low"])
    paper = paper_emo_a()
    rows = table[table["section"].isin(["baseline", "method"]) & table["display_name"].isin(list(paper))]
    names = list(rows["display_name"])
    if len(names) < 3:
        raise EmobenchError(f"{csv} shares only {len(names)} method(s) with EmoGen's Table 1",
                            "run at least three of sd, textual-inversion, dreambooth and emogen")
    zoo_scores = [float(v) for v in rows[metric]]
    paper_scores = [paper[n] for n in names]
    tau = stats.kendalltau(zoo_scores, paper_scores)
    return Validity(str(csv), metric, str(b["method"]), float(b[metric]), float(r[metric]), ratio, low, high,
                    CALIBRATION_BAND[0] <= ratio <= CALIBRATION_BAND[1], names, zoo_scores, paper_scores,
                    float(tau.statistic), float(tau.pvalue))


def render(v: Validity) -> list[str]:
    """Markdown lines for the model card and the command's output."""
    pairs = ", ".join(f"{n} {z:.1%} (paper {p:.2%})" for n, z, p in zip(v.methods, v.zoo_emo_a, v.paper_emo_a))
    return [
        f"- **Calibration** ({v.metric}, from `{Path(v.source).parent.name}/{Path(v.source).name}`): "
        f"{v.baseline} {v.baseline_emo_a:.1%} ÷ real images {v.real_emo_a:.1%} = **{v.calibration:.2f}** "
        f"(conservative 95 % bounds {v.calibration_low:.2f}–{v.calibration_high:.2f}); target "
        f"{CALIBRATION_BAND[0]}–{CALIBRATION_BAND[1]} ({'met' if v.in_band else 'not met'}). Real SD 1.5: "
        f"{PAPER_SD_EMO_A:.2%} on EmoGen's judge, whose real-image accuracy was never published; the band "
        "covers any real-image accuracy from 74.5 % to 94.4 %.",
        f"- **Ordering against EmoGen Table 1** (Emo-A): Kendall τ-b = **{v.kendall_tau:.2f}** "
        f"(p = {v.kendall_p:.2f}, {len(v.methods)} methods): {pairs}. One paper is one draw of each method; "
        "with four methods a single swapped pair gives τ = 0.67.",
    ]


def write_into_card(v: Validity, zoo_dir: str | Path) -> Path:
    from emobench.io.files import atomic_write_text
    from emobench.zoo.card import refresh_markdown

    root = Path(zoo_dir)
    card_path = root / "card.json"
    if not card_path.is_file():
        raise EmobenchError(f"{root} has no card.json", "pass a zoo folder built by `emobench zoo build`")
    card = json.loads(card_path.read_text())
    card["validity"] = {**v.to_json(), "markdown": render(v)}
    atomic_write_text(card_path, json.dumps(card, indent=1))
    return refresh_markdown(root)
