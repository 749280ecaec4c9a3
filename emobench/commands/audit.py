"""``emobench audit RUN``: the emotion-judge bias audit of a run (see ``emobench.judges.audit``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from emobench.errors import EmobenchError


def add_parser(sub) -> None:
    from emobench.cliargs import int_in   # range-checked while parsing

    p = sub.add_parser("audit", help="bias audit of the emotion judges on a run (neutral prompts, polarity, Emo-S)")
    p.add_argument("run", type=Path, help="a run directory written by `emobench run`")
    p.add_argument("--zoo", default=None, help="zoo whose panel audits (default: the run's zoo from zoo.json)")
    p.add_argument("--judges", default=None, help="comma list of judge names (default: the whole panel)")
    p.add_argument("--neutral-seeds", type=int_in(0, 100_000, "--neutral-seeds"), default=16,
                   help="images per neutral prompt ('an image', 'a photo'), drawn with the zoo (0: skip)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from emobench.rundir.layout import run_zoo_spec
    from emobench.judges.audit import AUDIT_FILE, AuditSettings, audit_run, format_audit
    from emobench.zoo.load import load_zoo

    run_dir = args.run
    if not (run_dir / "manifest.jsonl").is_file():
        raise EmobenchError(f"{run_dir} is not a run directory (no manifest.jsonl)", "pass a folder written by `emobench run`")
    if args.neutral_seeds < 0:
        raise EmobenchError(f"--neutral-seeds must be 0 or more, got {args.neutral_seeds}", "pass --neutral-seeds 16")
    from emobench.cliargs import names_list

    named = names_list(args.judges, "--judges")
    judges = tuple(named) if named else None
    zoo = load_zoo(args.zoo or run_zoo_spec(run_dir), with_pipeline=args.neutral_seeds > 0, with_dataset=False)
    result = audit_run(run_dir, zoo, AuditSettings(neutral_seeds=args.neutral_seeds, judges=judges))
    print(format_audit(result))
    print(f"written to {run_dir / AUDIT_FILE}")
    return 0
