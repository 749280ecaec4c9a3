"""``emobench human``: export, the rating server (headless Chromium, two raters at once, SIGKILL, bad input),
platform import, and analysis of simulated raters drawn from a known Bradley–Terry model.

The run is the report tests' synthetic scored run (real PNGs, manifest, per-image scores); the control
images come from a small stand-in dataset with the zoo dataset's interface, so no zoo is loaded.
"""
from __future__ import annotations

import csv
import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from emobench.cli import main as cli_main
from emobench.human.analyze import analyze
from emobench.human.export import ExportOptions, export_run
from emobench.human.importer import import_votes
from emobench.human.store import VoteStore
from emobench.human.tasks import load_study, rater_order, shown_order
from support.report_fixture import make_run

EMOTIONS = ("awe", "fear")


class _Sample:
    def __init__(self, sid: str, emotion: str, path: Path):
        self.id, self.emotion, self.image_path = sid, emotion, path


class TinyDataset:
    """The two calls the control checks make of a zoo dataset: ``by_emotion`` and ``load_images``."""

    def __init__(self, root: Path, per_emotion: int = 4):
        root.mkdir(parents=True, exist_ok=True)
        self.samples = []
        for e_i, emotion in enumerate(EMOTIONS):
            for i in range(per_emotion):
                path = root / f"{emotion}_{i}.png"
                px = np.full((16, 16, 3), (40 + 150 * e_i, 30 * i, 200 - 150 * e_i), dtype=np.uint8)
                Image.fromarray(px).save(path)
                self.samples.append(_Sample(f"{emotion}_{i}", emotion, path))

    def by_emotion(self, split: str, emotion: str):
        return [s for s in self.samples if s.emotion == emotion]

    def load_images(self, samples, size=None):
        return torch.stack([torch.from_numpy(np.array(Image.open(s.image_path).convert("RGB"))).permute(2, 0, 1)
                            .float() / 255 for s in samples])


def make_study(root: Path, methods=("sd", "emogen", "textual-inversion"), repeats: int | None = 3,
               controls: int = 1) -> Path:
    run = make_run(root / "run", methods=methods, emotions=EMOTIONS, n_per_emotion=4)
    export_run(run, None, ExportOptions(seed=0, repeats=repeats, controls_per_emotion=controls),
               dataset=TinyDataset(root / "data"), size=16)
    return run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, run: Path, port: int | None = None):
        self.run, self.port = run, port or _free_port()
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "emobench.human", "serve", str(run), "--port",
                                      str(self.port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stdout.read().decode())
            try:
                if self.get("/api/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            con.request(method, path, body=body, headers=headers or {})
            r = con.getresponse()
            return r.status, r.read()
        finally:
            con.close()

    def get(self, path: str):
        return self.request("GET", path)

    def post_json(self, path: str, obj) -> tuple[int, bytes]:
        return self.request("POST", path, json.dumps(obj).encode(), {"Content-Type": "application/json"})

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)


def answer_next(server: Server, rater: str, choice: str = "left") -> dict | None:
    status, body = server.get(f"/api/next?rater={rater}")
    assert status == 200, body
    task = json.loads(body)["task"]
    if task is None:
        return None
    vote = {"rater": rater, "task_id": task["task_id"], "order": task["order"], "left": task["left"],
            "right": task["right"], "answers": {q["id"]: choice for q in task["questions"]},
            "shown_at": task["shown_at"]}
    status, body = server.post_json("/api/vote", vote)
    assert status == 200, body
    return task


@pytest.fixture(scope="module")
def study_run(tmp_path_factory) -> Path:
    return make_study(tmp_path_factory.mktemp("human"))


@pytest.fixture(scope="module")
def server(study_run):
    s = Server(study_run)
    yield s
    s.stop()


def _votes(run: Path, rater: str | None = None):
    votes = VoteStore.open(run / "human" / "votes.sqlite").votes()
    return [v for v in votes if rater is None or v.rater == rater]


# ---------------------------------------------------------------------------------------------- export

def test_export_is_blind_and_has_the_checks(study_run):
    study = load_study(study_run / "human")
    kinds = [t.kind for t in study.tasks]
    assert kinds.count("pair") == 3 * 2 * 4 and kinds.count("set") == 3 * 2
    assert kinds.count("repeat") == 3 and kinds.count("control") == 2
    text = (study_run / "human" / "tasks.csv").read_text()
    for secret in ("sd", "emogen", "textual", "control", "repeat", "real", "shuffled"):
        assert secret not in text.lower().replace("(objects and scene easy to recognise)", "")
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) == len(study.tasks)
    for r in rows:
        assert (study_run / "human" / r["left_image_1"]).is_file()
    by_id = study.by_id()
    for t in study.tasks:
        assert len(t.a) == len(t.b) and t.a != t.b
        if t.kind == "pair":   # same cell, two methods
            assert len(set(t.cells)) == 1 and t.method_a != t.method_b
        if t.kind == "repeat":
            orig = by_id[t.of]
            assert (t.a, t.b) == (orig.a, orig.b) and t.export_order != orig.export_order
            for rater in ("r1", "r2", "r3"):
                assert shown_order(study, rater, t) != shown_order(study, rater, orig)
                ids = [x.task_id for x in rater_order(study, rater)]
                assert abs(ids.index(t.task_id) - ids.index(orig.task_id)) >= 3
        if t.kind == "control":
            assert t.method_a == "real (control)" and t.questions == ["emotion", "clarity"]   # looks like a pair
            assert t.keys_b[0].startswith("shuffled:") and not t.keys_b[0].split(":")[1].startswith(t.emotion)
    # A second export into the same folder is refused; nothing is lost.
    assert cli_main(["human", "export", str(study_run), "--controls-per-emotion", "0"]) == 2
    assert (study_run / "human" / "study.json").is_file()


# ------------------------------------------------------------------------------------ headless Chromium

def test_chromium_rater_clicks_through_20_tasks(server, study_run, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    from support.browser import browser_session as _browser
    from support.browser import console_errors as _console_errors

    browser = _browser(tmp_path)
    try:
        browser.get(server.url + "/?rater=browser1")
        wait = WebDriverWait(browser, 20)
        count = lambda: int(browser.find_element(By.ID, "count").get_attribute("data-done") or -1)  # noqa: E731
        wait.until(lambda d: d.find_element(By.ID, "intro").is_displayed())   # instructions before the first task
        browser.find_element(By.ID, "start").click()
        wait.until(lambda d: count() == 0 and d.find_element(By.ID, "rate").get_attribute("data-task"))
        assert "0 / " in browser.find_element(By.ID, "count").text
        for i in range(20):
            task = browser.find_element(By.ID, "rate").get_attribute("data-task")
            wait.until(lambda d: d.execute_script(
                "return Array.from(document.images).every(function(i){return i.complete && i.naturalWidth > 0;})"))
            if i == 0:
                browser.save_screenshot(str(tmp_path / "page.png"))
            n_q = len(load_study(study_run / "human").by_id()[task].questions)
            for q in range(n_q):
                wait.until(lambda d: d.find_element(By.ID, "qstep").text.startswith(f"Question {q + 1}")
                           if n_q > 1 else True)
                if i % 2:   # half the tasks by keyboard, half by clicking
                    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_LEFT if q % 2 else "2")
                else:
                    browser.find_element(By.ID, "pick-left" if q % 2 else "pick-right").click()
            wait.until(lambda d: count() == i + 1)
        assert "20 / " in browser.find_element(By.ID, "count").text
        assert not _console_errors(browser)
    finally:
        browser.quit()
    assert (tmp_path / "page.png").stat().st_size > 10_000
    votes = _votes(study_run, "browser1")
    tasks = load_study(study_run / "human").by_id()
    assert len({v.task_id for v in votes}) == 20
    assert len(votes) == sum(len(tasks[t].questions) for t in {v.task_id for v in votes})
    # The order in the store is the order the rater was given, and shown orders are recorded.
    order = [t.task_id for t in rater_order(load_study(study_run / "human"), "browser1")][:20]
    assert {v.task_id for v in votes} == set(order)
    assert {v.shown_order for v in votes} <= {"AB", "BA"} and all(v.answered_at >= v.shown_at for v in votes)


def test_chromium_phone_page_keys_undo_and_rater_id(server, tmp_path):
    """At 390 × 844 both sides are shown alike and whole and the progress bar stays; Enter / Space after a click
    never vote again; the instructions come first; undo brings the last task back; a bad rater id has a way out."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    from support.browser import browser_session as _browser
    from support.browser import console_errors as _console_errors

    browser = _browser(tmp_path)
    try:
        browser.set_window_size(390, 844)
        width = browser.execute_script("return window.innerWidth")
        browser.get(server.url + "/?rater=phone1")
        wait = WebDriverWait(browser, 20)
        wait.until(lambda d: d.find_element(By.ID, "intro").is_displayed())
        browser.save_screenshot(str(tmp_path / "phone-intro.png"))
        browser.find_element(By.ID, "start").click()
        wait.until(lambda d: d.find_element(By.ID, "rate").is_displayed() and d.execute_script(
            "return Array.from(document.images).every(function(i){return i.complete && i.naturalWidth > 0;})"))
        browser.save_screenshot(str(tmp_path / "phone-task.png"))
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width
        box = lambda el: browser.execute_script(  # noqa: E731
            "var r = arguments[0].getBoundingClientRect(); return [r.left, r.right, r.width, r.height];", el)
        left, right = (box(browser.find_element(By.ID, f"side-{s}")) for s in ("left", "right"))
        assert abs(left[2] - right[2]) < 1 and abs(left[3] - right[3]) < 1   # both sides alike
        assert 0 <= left[0] and right[1] <= width                              # both whole on the screen
        for s in ("left", "right"):
            b = box(browser.find_element(By.ID, f"pick-{s}"))
            assert 0 <= b[0] and b[1] <= width and b[2] > 40
        bar = box(browser.find_element(By.ID, "bar"))
        assert bar[2] > 40 and 0 <= bar[0] and bar[1] <= width
        # keys never re-trigger a clicked button
        count = lambda: int(browser.find_element(By.ID, "count").get_attribute("data-done") or -1)  # noqa: E731
        step = lambda: browser.find_element(By.ID, "qstep").text  # noqa: E731
        first_task = browser.find_element(By.ID, "rate").get_attribute("data-task")
        browser.find_element(By.ID, "pick-left").click()
        wait.until(lambda d: step().startswith("Question 2"))
        active = browser.switch_to.active_element
        for key in (Keys.ENTER, Keys.SPACE, Keys.ENTER):
            active.send_keys(key)
            browser.find_element(By.TAG_NAME, "body").send_keys(key)
        time.sleep(0.5)
        assert step().startswith("Question 2") and count() == 0   # nothing was answered by those keys
        browser.find_element(By.ID, "pick-right").click()
        wait.until(lambda d: count() == 1)
        # undo: the task just answered comes back, its votes gone from the store
        assert browser.find_element(By.ID, "rate").get_attribute("data-task") != first_task
        browser.find_element(By.ID, "undo").click()
        wait.until(lambda d: count() == 0 and d.find_element(By.ID, "rate").get_attribute("data-task") == first_task)
        # a wrong rater id: "not you?" leads back to the id form; an invalid one is refused there
        browser.find_element(By.ID, "change-rater").click()
        wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
        field = browser.find_element(By.ID, "raterid")
        field.send_keys("bad id!")
        browser.execute_script("document.getElementById('loginform').requestSubmit ? "
                               "document.getElementById('loginform').dispatchEvent(new Event('submit')) : 0")
        wait.until(lambda d: "Use 1 to 64" in d.find_element(By.ID, "loginmsg").text)
        browser.get(server.url + "/?rater=" + "x" * 70)   # a link with a bad id: the form, with the reason
        wait.until(lambda d: d.find_element(By.ID, "login").is_displayed()
                   and "not valid" in d.find_element(By.ID, "loginmsg").text)
        assert not _console_errors(browser)
    finally:
        browser.quit()
    votes = [v for v in VoteStore.open(server.run / "human" / "votes.sqlite").votes() if v.rater == "phone1"]
    assert votes == []   # answered once, undone once: nothing left, nothing twice


# ------------------------------------------------------------------------------------- two raters at once

def test_two_raters_at_once_lose_no_vote(server, study_run):
    """Two raters answer every task as fast as they can, at the same time: duo-a and duo-b on one server
    (concurrent requests), duo-c on a second server process writing to the same store file."""
    total = len(load_study(study_run / "human").tasks)
    done: dict[str, int] = {}
    errors: list[BaseException] = []
    second = Server(study_run)

    def rate(rater: str, srv: Server) -> None:
        try:
            n = 0
            while answer_next(srv, rater, "right" if rater.endswith("b") else "left") is not None:
                n += 1
            done[rater] = n
        except BaseException as err:  # noqa: BLE001 — reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=rate, args=(r, s)) for r, s in
               (("duo-a", server), ("duo-b", server), ("duo-c", second))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        second.stop()
    assert not errors, errors
    assert done == {"duo-a": total, "duo-b": total, "duo-c": total}
    tasks = load_study(study_run / "human").by_id()
    n_questions = sum(len(t.questions) for t in tasks.values())
    for rater, side in (("duo-a", "left"), ("duo-b", "right"), ("duo-c", "left")):
        votes = _votes(study_run, rater)
        assert len(votes) == n_questions and {v.choice for v in votes} == {side}


# ------------------------------------------------------------------------------------------ SIGKILL

def test_server_killed_mid_session_loses_no_committed_vote(study_run):
    first = Server(study_run)
    answered = []
    try:
        for _ in range(6):
            answered.append(answer_next(first, "killed")["task_id"])
        # A vote in flight when the kill lands may or may not commit; every acknowledged one must survive.
        status, body = first.get("/api/next?rater=killed")
        task = json.loads(body)["task"]
        vote = {"rater": "killed", "task_id": task["task_id"], "order": task["order"], "left": task["left"],
                "right": task["right"], "answers": {q["id"]: "left" for q in task["questions"]},
                "shown_at": task["shown_at"]}
        t = threading.Thread(target=lambda: _try(first.post_json, "/api/vote", vote))
        t.start()
    finally:
        first.stop(signal.SIGKILL)
    t.join(timeout=30)
    assert first.proc.returncode == -signal.SIGKILL
    committed = {v.task_id for v in _votes(study_run, "killed")}
    assert set(answered) <= committed and len(committed) in (6, 7)
    second = Server(study_run)
    try:
        status, body = second.get("/api/next?rater=killed")
        data = json.loads(body)
        assert data["progress"]["done"] == len(committed)   # the rater resumes where the store says
        assert data["task"]["task_id"] not in committed
        answer_next(second, "killed")
    finally:
        second.stop()
    assert len({v.task_id for v in _votes(study_run, "killed")}) == len(committed) + 1


def _try(fn, *args):
    try:
        return fn(*args)
    except OSError:
        return None


# ------------------------------------------------------------------------------------------- bad input

def test_bad_input_is_refused_with_4xx_and_nothing_written(server, study_run):
    before = len(_votes(study_run))
    status, body = server.get("/api/next?rater=bad1")
    task = json.loads(body)["task"]
    good = {"rater": "bad1", "task_id": task["task_id"], "order": task["order"], "left": task["left"],
            "right": task["right"], "answers": {q["id"]: "left" for q in task["questions"]},
            "shown_at": task["shown_at"]}
    study = load_study(study_run / "human")
    methods = sorted({t.method_a for t in study.tasks} | {t.method_b for t in study.tasks})
    cases = {
        "unknown task": ({**good, "task_id": "t0000000000000000"}, 404),
        "tampered method field": ({**good, "method_a": methods[0]}, 422),
        "method name as image": ({**good, "left": [methods[0]]}, 422),
        "method name as choice": ({**good, "answers": {q: methods[1] for q in good["answers"]}}, 422),
        "swapped images": ({**good, "left": good["right"], "right": good["left"]}, 422),
        "order flipped": ({**good, "order": "BA" if good["order"] == "AB" else "AB"}, 422),
        "missing answer": ({**good, "answers": dict(list(good["answers"].items())[:1])}
                           if len(good["answers"]) > 1 else {**good, "answers": {}}, 422),
        "bad rater id": ({**good, "rater": "../etc"}, 422),
        "shown in the future": ({**good, "shown_at": time.time() + 3600}, 422),
    }
    for name, (body, code) in cases.items():
        status, resp = server.post_json("/api/vote", body)
        assert status == code, (name, status, resp)
    big = json.dumps({**good, "pad": "x" * 100_000}).encode()
    assert server.request("POST", "/api/vote", big, {"Content-Type": "application/json"})[0] == 413
    assert server.request("POST", "/api/vote", b"{not json", {"Content-Type": "application/json"})[0] == 422
    con = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)   # no length: refused unread
    con.request("POST", "/api/vote", body=iter([json.dumps(good).encode()]), encode_chunked=True,
                headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    assert con.getresponse().status == 411
    con.close()
    assert len(_votes(study_run)) == before
    # The valid vote goes in once; a second submit is refused and writes nothing.
    assert server.post_json("/api/vote", good)[0] == 200
    n = len(_votes(study_run))
    assert server.post_json("/api/vote", good)[0] == 409
    assert server.post_json("/api/vote", {**good, "answers": {q: "right" for q in good["answers"]}})[0] == 409
    assert len(_votes(study_run)) == n == before + len(good["answers"])
    # Images: only the study's own, by exact name; nothing outside the run's study folder.
    img = study.images[study.tasks[0].a[0]]
    assert server.get(f"/img/{img}")[0] == 200
    for path in ("/img/..%2F..%2Fconfig.json", "/img/../../config.json", "/img/..%2Fstudy.json",
                 "/img/%2e%2e%2fvotes.sqlite", "/img/i0000000000000000.png", "/img/" + img.replace(".png", ".json"),
                 "/img/..%2Fimages%2F" + img, "/study.json", "/human/study.json", "/manifest.jsonl"):
        status, body = server.get(path)
        assert 400 <= status < 500, (path, status)
        assert b"method" not in body and b"PNG" not in body[:8]
    assert server.get("/api/next?rater=a%2F..%2Fb")[0] == 422


# ---------------------------------------------------------------------------------------------- import

def test_import_merges_and_reports_refused_rows(tmp_path, capsys):
    run = make_study(tmp_path, methods=("sd", "emogen"), repeats=2)
    store_path = run / "human" / "votes.sqlite"
    study = load_study(run / "human")
    t0, t1 = study.tasks[0], study.tasks[1]
    rows = [["rater_id", "task_id", "question", "choice", "shown_at", "answered_at"],
            ["w1", t0.task_id, t0.questions[0], "left", "2026-11-01T10:00:00Z", "2026-11-01T10:00:05Z"],
            ["w1", t1.task_id, t1.questions[0], "RIGHT", "", ""],
            ["w1", t0.task_id, t0.questions[0], "right", "", ""],          # duplicate within the file
            ["w2", "t0000000000000000", "emotion", "left", "", ""],        # unknown task
            ["w2", t0.task_id, "beauty", "left", "", ""],                  # unknown question
            ["w2", t0.task_id, t0.questions[0], "emogen", "", ""]]         # a method name is no choice
    f = tmp_path / "platform.csv"
    f.write_text("\n".join(",".join(r) for r in rows) + "\n")
    assert cli_main(["human", "import", str(f), "--store", str(store_path), "--strict"]) == 2
    assert VoteStore.open(store_path).votes() == []
    assert cli_main(["human", "import", str(f), "--store", str(store_path)]) == 0
    out, err = capsys.readouterr()
    assert "imported 2 vote(s); refused 4 (1 duplicate, 1 unknown task, 1 unknown question, 1 bad value)" in out
    assert "platform.csv:4: refused: duplicate" in err and "platform.csv:5: refused: unknown task" in err
    votes = VoteStore.open(store_path).votes()
    assert [(v.rater, v.choice, v.shown_order) for v in votes] == [("w1", "left", t0.export_order),
                                                                   ("w1", "right", t1.export_order)]
    assert votes[0].answered_at - votes[0].shown_at == 5
    # Re-importing the same file: everything is a duplicate now, nothing is added.
    report = import_votes(f, VoteStore.open(store_path))
    assert report.imported == 0 and report.count("duplicate") == 3
    assert cli_main(["human", "import", str(tmp_path / "nope.csv"), "--store", str(store_path)]) == 2
    assert cli_main(["human", "analyze", str(f)]) == 2   # a CSV is no vote store
    assert "is not an emobench vote store" in capsys.readouterr().err


# --------------------------------------------------------------------------- simulated Bradley–Terry raters

PLANTED = {"emogen": 1.2, "textual-inversion": 0.4, "sd": 0.0, "dreambooth": -0.8}


def _simulate(run: Path, n_good: int, n_random: int, seed: int = 1) -> tuple[Path, float]:
    """Votes of good raters drawn from PLANTED (they pass the checks), and of random raters (coin flips),
    written as a platform CSV. Returns the CSV and the α the planted model implies for the emotion question."""
    study = load_study(run / "human")
    by_id = study.by_id()
    rng = np.random.default_rng(seed)
    rows = [["rater_id", "task_id", "question", "choice", "shown_order"]]
    p_units = []
    for t in study.tasks:
        if t.kind in ("pair", "set"):
            p_units.append(1 / (1 + math.exp(PLANTED[t.method_b] - PLANTED[t.method_a])))
    for r in range(n_good + n_random):
        rater = f"sim{r:02d}" if r < n_good else f"coin{r:02d}"
        won: dict[tuple[str, str], str] = {}
        for t in sorted(study.tasks, key=lambda t: t.kind == "repeat"):   # originals before their repeats
            order = shown_order(study, rater, t)
            for q in t.questions:
                if r >= n_good:
                    side = "A" if rng.random() < 0.5 else "B"
                elif t.kind == "control":
                    side = "A"
                elif t.kind == "repeat":
                    side = won[(by_id[t.of].task_id, q)]
                else:
                    p = 1 / (1 + math.exp(PLANTED[t.method_b] - PLANTED[t.method_a]))
                    side = "A" if rng.random() < p else "B"
                won[(t.task_id, q)] = side
                choice = "left" if (side == "A") == (order == "AB") else "right"
                rows.append([rater, t.task_id, q, choice, order])
    path = run / "sim.csv"
    path.write_text("\n".join(",".join(r) for r in rows) + "\n")
    p = np.array(p_units)
    # Large-sample nominal α for binary votes: 1 - (within-unit disagreement) / (disagreement by chance).
    big_p = p.mean()
    alpha = 1 - np.mean(2 * p * (1 - p)) / (2 * big_p * (1 - big_p))
    return path, float(alpha)


def test_analyze_recovers_planted_bradley_terry_order(tmp_path, capsys):
    run = make_study(tmp_path, methods=tuple(PLANTED), repeats=None)
    store_path = run / "human" / "votes.sqlite"
    csv_path, alpha_planted = _simulate(run, n_good=24, n_random=4)
    assert import_votes(csv_path, VoteStore.open(store_path)).refused == []
    assert cli_main(["human", "analyze", str(store_path), "--json", "--resamples", "100"]) == 0
    result = json.loads(capsys.readouterr().out)

    planted_order = sorted(PLANTED, key=PLANTED.get, reverse=True)
    for q in ("emotion", "clarity", "diversity"):
        got = [s["method"] for s in sorted((s for s in result["strengths"] if s["question"] == q),
                                           key=lambda s: s["rank"])]
        assert got == planted_order, q
    # Strength gaps are recovered (BT log-strengths are differences; the planted scale is the logit scale).
    emo = {s["method"]: s for s in result["strengths"] if s["question"] == "emotion"}
    for m in PLANTED:
        gap = emo[m]["strength"] - emo["sd"]["strength"]
        assert abs(gap - (PLANTED[m] - PLANTED["sd"])) < 0.25, (m, gap)
        assert emo[m]["ci_low"] <= emo[m]["strength"] <= emo[m]["ci_high"]
    # Preference rows: the stronger method is named first, and its share matches the planted probability.
    for p in (p for p in result["preferences"] if p["question"] == "emotion"):
        assert PLANTED[p["method"]] > PLANTED[p["opponent"]]
        want = 1 / (1 + math.exp(PLANTED[p["opponent"]] - PLANTED[p["method"]]))
        assert abs(p["preference"] - want) < 0.08 and p["ci_low"] <= p["preference"] <= p["ci_high"]
        assert p["n_raters"] == result["n_kept"] and p["std_raters"] > 0
    # Krippendorff's α of the emotion question within 0.05 of what the planted model implies.
    assert abs(result["alpha"]["emotion"]["alpha"] - alpha_planted) < 0.05, (result["alpha"], alpha_planted)
    # Rater quality: every good rater kept; random raters excluded by the documented rule.
    quality = {r["rater"]: r for r in result["raters"]}
    assert all(not q["excluded"] and q["pass_rate"] == 1.0 for k, q in quality.items() if k.startswith("sim"))
    assert sum(q["excluded"] for k, q in quality.items() if k.startswith("coin")) >= 3
    assert result["n_kept"] == 24 + sum(not q["excluded"] for k, q in quality.items() if k.startswith("coin"))
    # Metric agreement rows exist for the run's per-image metrics, shares within [0, 1].
    agree = [g for g in result["agreement"] if g["question"] == "emotion"]
    assert {g["metric"] for g in agree} >= {"emo-a", "sem-c", "clip-score"}
    assert all(0 <= g["agree"] <= 1 and g["n_tasks"] > 0 for g in agree if g["agree"] is not None)


def test_metric_agreement_is_one_when_humans_follow_the_metric(tmp_path):
    run = make_study(tmp_path, methods=("sd", "emogen", "textual-inversion"), repeats=0)
    import pandas as pd

    scores = pd.read_csv(run / "scores.csv")
    clip = {k: v for k, m, v in scores[["key", "metric", "value"]].itertuples(index=False) if m == "clip-score"}
    study = load_study(run / "human")
    rows = [["rater_id", "task_id", "question", "choice", "shown_order"]]
    for rater in ("h1", "h2", "h3"):
        for t in study.tasks:
            if t.kind != "pair":
                continue
            side = "A" if clip[t.keys_a[0]] > clip[t.keys_b[0]] else "B"
            order = shown_order(study, rater, t)
            rows.append([rater, t.task_id, "emotion", "left" if (side == "A") == (order == "AB") else "right", order])
    f = tmp_path / "follow.csv"
    f.write_text("\n".join(",".join(r) for r in rows) + "\n")
    import_votes(f, VoteStore.open(run / "human" / "votes.sqlite"))
    result = analyze(VoteStore.open(run / "human" / "votes.sqlite"), n_boot=50)
    by_metric = {g.metric: g for g in result.agreement if g.question == "emotion"}
    clip_name = next(m for m in by_metric if m.lower().startswith("clip"))
    assert by_metric[clip_name].agree == 1.0 and by_metric[clip_name].n_tasks == 3 * 2 * 4
    assert result.alpha["emotion"]["alpha"] == pytest.approx(1.0)


def test_report_shows_the_human_section(tmp_path):
    run = make_study(tmp_path, methods=("sd", "emogen"), repeats=2)
    csv_path, _ = _simulate_two(run)
    import_votes(csv_path, VoteStore.open(run / "human" / "votes.sqlite"))
    out = tmp_path / "report"
    assert cli_main(["report", str(run), "--out", str(out), "--no-figures",
                     "--human", str(run / "human" / "votes.sqlite")]) == 0
    page = (out / "index.html").read_text()
    assert '<section id="human">' in page and "Bradley–Terry" in page and "Krippendorff" in page
    md = (out / "human.md").read_text()
    assert "| Emotion expression | emogen | sd |" in md or "| Emotion expression | sd | emogen |" in md
    assert cli_main(["report", str(run), "--out", str(out), "--no-figures", "--human", str(tmp_path / "x.db")]) == 2


def _simulate_two(run: Path):
    study = load_study(run / "human")
    rows = [["rater_id", "task_id", "question", "choice", "shown_order"]]
    for rater in ("a", "b"):   # side A always wins: consistent on repeats, the real image on controls
        for t in study.tasks:
            order = shown_order(study, rater, t)
            for q in t.questions:
                rows.append([rater, t.task_id, q, "left" if order == "AB" else "right", order])
    path = run / "two.csv"
    path.write_text("\n".join(",".join(r) for r in rows) + "\n")
    return path, None


def test_a_method_without_comparisons_gets_no_rank_and_stays_out_of_tau(tmp_path):
    run = make_study(tmp_path, methods=("sd", "emogen", "textual-inversion"), repeats=0, controls=0)
    study = load_study(run / "human")
    rows = [["rater_id", "task_id", "question", "choice", "shown_order"]]
    for rater in ("a", "b", "c"):   # only sd and emogen are ever compared; emogen mostly wins
        for i, t in enumerate(study.tasks):
            if {t.method_a, t.method_b} != {"sd", "emogen"}:
                continue
            order = shown_order(study, rater, t)
            for q in t.questions:
                wins_a = (t.method_a == "emogen") != (i % 4 == 0)
                rows.append([rater, t.task_id, q, "left" if wins_a == (order == "AB") else "right", order])
    (run / "votes.csv").write_text("\n".join(",".join(r) for r in rows) + "\n")
    store = VoteStore.open(run / "human" / "votes.sqlite")
    assert import_votes(run / "votes.csv", store).refused == []
    result = analyze(store, n_boot=50)
    assert {s.method for s in result.strengths} == {"sd", "emogen"}
    assert all(s.rank in (1, 2) for s in result.strengths)
    assert any("textual-inversion: no comparison" in n for n in result.notes)
    assert all(g.n_methods == 2 for g in result.agreement)   # τ over the compared methods only


def test_the_reports_human_section_speaks_the_reports_language(tmp_path):
    run = make_study(tmp_path, methods=("sd", "emogen"), repeats=2, controls=0)
    methods = json.loads((run / "methods.json").read_text())
    methods["sd"]["display_name"], methods["emogen"]["display_name"] = "Stable Diffusion", "EmoGen"
    (run / "methods.json").write_text(json.dumps(methods))
    path, _ = _simulate_two(run)
    assert import_votes(path, VoteStore.open(run / "human" / "votes.sqlite")).refused == []
    out = tmp_path / "out"
    assert cli_main(["report", str(run), "--out", str(out), "--no-figures",
                     "--human", str(run / "human" / "votes.sqlite")]) == 0
    md, page = (out / "human.md").read_text(), (out / "index.html").read_text()
    assert "| Stable Diffusion |" in md and "| sd |" not in md and "EmoGen" in md
    assert "{emotion}" not in md + page and "Which image shows awe / fear better?" in page
    top = page.index('id="human-link"')
    assert page.index("</h1>") < top < page.index('<p class="facts">') and 'href="#human"' in page[top:top + 200]
