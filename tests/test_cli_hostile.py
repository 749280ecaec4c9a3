"""No traceback, ever, from the CLI: ``--help`` of every subcommand works, every numeric option is range-checked
while the arguments are parsed, and every subcommand meets a table of hostile values with exit code 2, one
``emobench: error:`` line and nothing written."""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import sqlite3
from pathlib import Path

import pytest

from support.core_plugins import PLUGINS

from emobench import cliargs
from emobench.cli import build_parser
from emobench.cli import main as cli


@pytest.fixture(autouse=True)
def _env(monkeypatch, isolated_cache, tmp_path):
    monkeypatch.setenv("EMOBENCH_PLUGINS", PLUGINS)
    monkeypatch.chdir(tmp_path)   # a command that wrongly accepted a value would write here: it is checked


def subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield path + (name,), sub
                yield from subcommands(sub, path + (name,))


COMMANDS = dict(subcommands(build_parser()))
NUMBER_TYPES = {int, float}
# values no number option accepts: negative, beyond 2^63 or absurd, not finite, not a number, empty
HOSTILE_NUMBERS = ["-1", "-0.5", "99999999999999999999999", "1" + "0" * 400, "nan", "inf", "1e400", "", "x"]


def one_error_line(err: str) -> str:
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("emobench: error:"), err
    assert "Traceback" not in err and "internal error" not in err, err
    return lines[0]


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_help_of_every_subcommand(path, capsys):
    assert cli([*path, "--help"]) == 0
    assert "usage:" in capsys.readouterr().out


def number_options():
    for path, parser in sorted(COMMANDS.items()):
        for action in parser._actions:
            if action.option_strings and action.type is not None and action.nargs is None:
                yield path, action


def test_every_number_option_is_range_checked():
    """A number option is parsed by a range-checked type of ``emobench.cliargs``, never a bare int/float."""
    bare = [f"{' '.join(path)} {a.option_strings[0]}" for path, a in number_options() if a.type in NUMBER_TYPES]
    assert not bare, f"bare int/float options (use emobench.cliargs types): {bare}"
    assert sum(1 for _ in number_options()) >= 40


@pytest.mark.parametrize("path,option", [(p, a.option_strings[-1]) for p, a in number_options()
                                         if getattr(a.type, "__name__", "").startswith(("int_in", "float_in"))],
                         ids=lambda x: " ".join(x) if isinstance(x, tuple) else x)
def test_hostile_numbers_are_one_line_and_write_nothing(path, option, tmp_path, capsys):
    for value in HOSTILE_NUMBERS:
        args = [*path, *placeholders(path, tmp_path), f"{option}={value}"]
        assert cli(args) == 2, args
        line = one_error_line(capsys.readouterr().err)
        assert option in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"] or not list(tmp_path.iterdir())


def placeholders(path: tuple[str, ...], tmp: Path) -> list[str]:
    """Required arguments of a subcommand, pointing nowhere harmful (the hostile value fails first)."""
    parser = COMMANDS[path]
    out: list[str] = []
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction) or a.dest in ("help",):
            continue
        if not a.option_strings and a.nargs != "?":
            out.append(a.choices and sorted(a.choices)[0] or str(tmp / "nowhere"))
        elif a.option_strings and a.required:
            out += [a.option_strings[-1], str(tmp / "nowhere")]
    return out


# ------------------------------------------------------------------------------- the table of hostile values

@pytest.fixture(scope="module")
def world(zoo_dir, tmp_path_factory):
    """A finished two-method run of the tiny zoo, its vote store, and hostile files."""
    base = tmp_path_factory.mktemp("hostile")
    old = os.environ.get("EMOBENCH_PLUGINS"), os.environ.get("EMOBENCH_CACHE")
    os.environ["EMOBENCH_PLUGINS"] = PLUGINS
    os.environ["EMOBENCH_CACHE"] = str(base / "cache")
    try:
        run = base / "run"
        assert cli(["run", "--zoo", str(zoo_dir), "--methods", "noise,noise:scale=2.0", "--emotions", "awe,fear",
                    "--n-per-emotion", "2", "--metrics", "emo-a", "--out", str(run), "--no-progress",
                    "--no-report"]) == 0
        assert cli(["human", "export", str(run), "--controls-per-emotion", "0"]) == 0
    finally:
        for key, value in zip(("EMOBENCH_PLUGINS", "EMOBENCH_CACHE"), old):
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    files = base / "files"
    files.mkdir()
    (files / "latin1.csv").write_bytes("rater_id,task_id,question,choice\nJosé,t1,emotion,left\n".encode("latin-1"))
    (files / "utf16.csv").write_bytes("rater_id,task_id,question,choice\n".encode("utf-16"))
    (files / "nul.csv").write_bytes(b"rater_id,task_id,question,choice\nw,t\x00,emotion,left\n")
    (files / "huge.csv").write_text("rater_id,task_id,question,choice\nw," + "t" * 300_000 + ",emotion,left\n")
    (files / "empty.csv").write_text("")
    (files / "garbage.csv").write_bytes(b'section,method\n"unterminated,\x00\xff\n')
    (files / "columns.csv").write_text("section,method,display_name,emo-a,emo-a_ci_low,emo-a_ci_high\n"
                                       "baseline,sd,SD,abc,x,y\nmethod,real (control),R,,,\n")
    (files / "not.sqlite").write_text("not a database")
    (files / "binary.toml").write_bytes(b"\xff\xfe\x00bad")
    (files / "plain").write_text("a file, not a folder")
    return {"run": run, "store": run / "human" / "votes.sqlite", "files": files, "zoo": zoo_dir}


def table(w) -> list[list[str]]:
    run, store, f, zoo = str(w["run"]), str(w["store"]), w["files"], str(w["zoo"])
    nowhere = str(f / "nowhere")
    plain = str(f / "plain")
    base = ["run", "--zoo", zoo, "--out", str(f / "new-run"), "--no-progress"]
    return [
        base + ["--methods", ","], base + ["--metrics", ",,"], base + ["--emotions", ",,"],
        base + ["--prompts", ","], base + ["--track", "content", "--contents", ","],
        base + ["--methods", "noise:tags=a++b"], base + ["--n-per-emotion", "99999999999"],
        base + ["--n-per-emotion", "-4"], base + ["--batch-size", "0"], base + ["--fit-seeds", "100000"],
        base + ["--seed", str(2 ** 63)], base + ["--config", str(f / "binary.toml")],
        base + ["--config", nowhere], base + ["--zoo", nowhere], ["run", "--resume", nowhere],
        ["run", "--resume", plain], base[:-3] + ["--out", plain],
        base + ["--launcher", "torchrun", "--methods", "nosuchmethod"],
        ["run", "--zoo", zoo, "--launcher", "torchrun", "--methods", "noise"],   # no --out: refused before spawning
        ["list", "bogus"], ["list", "judges", "--zoo", nowhere],
        ["score", nowhere], ["score", run, "--metrics", ","], ["score", run, "--metrics", "nosuchmetric"],
        ["score", run, "--zoo", nowhere], ["score", plain],
        ["fit", "nosuchmethod"], ["fit", "noise"], ["fit", "learner", "--emotions", ",,"],
        ["fit", "learner", "--zoo", nowhere],
        ["zoo"], ["zoo", "build", "mini", "--out", plain], ["zoo", "build", "large", "--out", nowhere],
        ["zoo", "check", nowhere], ["zoo", "validity", nowhere], ["zoo", "validity", str(f / "empty.csv")],
        ["zoo", "validity", str(f / "garbage.csv")], ["zoo", "validity", str(f / "columns.csv")],
        ["zoo", "world", "--out", plain], ["zoo", "fit-judges", "--zoo", nowhere],
        ["zoo", "fit-panel", nowhere], ["zoo", "validate-judges", "--zoo", nowhere],
        ["zoo", "make-tiny-paper", plain],
        ["report", nowhere], ["report", run, "--human", nowhere], ["report", run, "--human", str(f / "not.sqlite")],
        ["report", run, "--out", plain], ["figures", nowhere], ["figures", run, "--out", plain],
        ["validate-plugin", "nosuchplugin"], ["validate-plugin", "noise", "--check", "nosuchcheck"],
        ["validate-plugin", "noise", "--option", "novalue"],
        ["human"], ["human", "export", nowhere], ["human", "export", run, "--out", plain],
        ["human", "export", run, "--methods", ","],
        ["human", "serve", nowhere], ["human", "serve", run, "--host", "no.such.host.invalid"],
        ["human", "import", str(f / "latin1.csv"), "--store", store],
        ["human", "import", str(f / "utf16.csv"), "--store", store],
        ["human", "import", str(f / "nul.csv"), "--store", store],
        ["human", "import", str(f / "huge.csv"), "--store", store],
        ["human", "import", str(f / "empty.csv"), "--store", store],
        ["human", "import", nowhere, "--store", store], ["human", "import", str(f / "latin1.csv"), "--store", nowhere],
        ["human", "import", str(f / "latin1.csv"), "--store", str(f / "not.sqlite")],
        ["human", "analyze", nowhere], ["human", "analyze", str(f / "not.sqlite")],
        ["audit", nowhere], ["audit", run, "--zoo", nowhere], ["verify", nowhere], ["verify", plain],
        ["agree", nowhere], ["agree", run, "--resamples", "0"], ["agree", plain],
        ["plan"], ["plan", "export", "--zoo", zoo, "--out", plain], ["plan", "export", "--zoo", nowhere, "--out",
                                                                   str(f / "new-export")],
        ["plan", "export", "--zoo", zoo, "--out", str(f / "new-export"), "--emotions", ",,"],
        ["plan", "export", "--from-run", nowhere, "--out", str(f / "new-export")],
        ["bundle", nowhere, "--method", "noise", "--out", str(f / "new.zip")],
        ["bundle", run, "--method", "nosuchmethod", "--out", str(f / "new.zip")],
        ["bundle", run, "--method", "noise", "--out", plain],
    ]


def test_every_subcommand_meets_hostile_values(world, tmp_path, capsys):
    rows = table(world)
    covered = {tuple(a for a in row if not a.startswith("-") and "/" not in a)[:2] for row in rows}
    missing = [" ".join(p) for p in COMMANDS if p[:2] not in covered and p[:1] not in {c[:1] for c in covered}]
    assert not missing, f"subcommands without hostile cases: {missing}"
    before = {p: p.stat().st_mtime_ns for p in world["run"].rglob("*") if p.is_file()}
    store = world["store"].read_bytes()
    for args in rows:
        code = cli(args)
        err = capsys.readouterr().err
        assert code == 2, (args, err)
        one_error_line(err)
    assert {p: p.stat().st_mtime_ns for p in world["run"].rglob("*") if p.is_file()} == before
    assert world["store"].read_bytes() == store
    assert not (world["files"] / "new-run").exists() and not (world["files"] / "nowhere").exists()
    assert not (world["files"] / "new-export").exists() and not (world["files"] / "new.zip").exists()


def test_a_busy_port_is_one_line(world, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli(["human", "serve", str(world["run"]), "--port", str(port)]) == 2
    assert "already in use" in one_error_line(capsys.readouterr().err)


def test_a_bom_is_welcome(world, tmp_path, capsys):
    store = tmp_path / "votes.sqlite"
    shutil.copy(world["store"], store)
    with sqlite3.connect(store) as con:
        task, questions = con.execute("SELECT task_id, body FROM tasks LIMIT 1").fetchone()
    csv = tmp_path / "bom.csv"
    csv.write_bytes("\ufeffrater_id,task_id,question,choice\nwörker,".encode() + task.encode()
                    + b",emotion,left\n")
    assert cli(["human", "import", str(csv), "--store", str(store)]) == 0
    assert "imported 1 vote(s)" in capsys.readouterr().out


def test_an_unexpected_crash_is_one_line_with_a_log(monkeypatch, capsys):
    from emobench.commands import verify

    monkeypatch.delenv("EMOBENCH_TRACEBACK", raising=False)
    monkeypatch.setattr(verify, "main", lambda args: 1 / 0)
    parser = build_parser()
    args = parser.parse_args(["verify", "x"])
    args.func = verify.main
    assert cliargs.run_guarded(args.func, args) == 1
    line = [x for x in capsys.readouterr().err.splitlines() if x][0]
    assert line.startswith("emobench: error: internal error (ZeroDivisionError") and ".log" in line
