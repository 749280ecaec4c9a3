"""The fake scored run the report tests draw (tests/support/report_fixture.py) is self-consistent."""
from __future__ import annotations

import hashlib
import json

import pandas as pd

from emobench.api import ImageRecord
from support.report_fixture import make_run


def test_fixture_run_is_consistent(tmp_path):
    run = make_run(tmp_path / "run", failed={"dreambooth": "fit failed: out of memory"})
    records = [ImageRecord.from_json(l) for l in (run / "manifest.jsonl").read_text().splitlines()]
    assert len(records) == 3 * 3 * 4
    for r in records:
        assert hashlib.sha256((run / r.path).read_bytes()).hexdigest() == r.sha256
    plan_cells = {(c["emotion"], c["template"], c["seed"]) for c in json.loads((run / "plan.json").read_text())["cells"]}
    assert {(r.emotion, r.template, r.seed) for r in records} == plan_cells
    s = pd.read_csv(run / "summary.csv")
    assert (s["ci_low"] <= s["value"] + 1e-12).all() and (s["value"] <= s["ci_high"] + 1e-12).all()
    assert set(s["method"]) == {"sd", "emogen", "textual-inversion", "real (control)", "shuffled (control)"}
    assert s[s.method == "sd"]["diff"].isna().all() and s[s.method == "emogen"]["diff"].notna().all()
