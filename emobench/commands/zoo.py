"""``emobench zoo build|check|stats|validity|world``: build the mini zoo, recompute its quality figures, measure how
much of an emotion its content carries (beside EmoSet's), write EmoSet-mini."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from emobench.cliargs import BATCH, POSITIVE, WORKERS, float_in, int_in
from emobench.errors import EmobenchError


def add_parser(sub) -> None:
    p = sub.add_parser("zoo", help="build / check the mini zoo, write the EmoSet-mini dataset")
    zsub = p.add_subparsers(dest="zoo_command", metavar="ZOO_COMMAND")
    zsub.required = True

    b = zsub.add_parser("build", help="train the mini zoo from a fixed seed (CPU, up to about an hour)")
    b.add_argument("scale", choices=["mini"], help="which zoo to build (only 'mini' is built here)")
    b.add_argument("--out", required=True, type=Path, help="new or empty output folder")
    b.add_argument("--seed", type=int_in(0, 2 ** 32 - 1, "--seed"), default=None, help="data and init seed (default 0)")
    b.add_argument("--minutes", type=float_in(0, 100_000, "--minutes", open_low=True), default=None,
                   help="fit the whole build into about this many minutes (chooses the UNet step count from the "
                        "measured step time and records it; --unet-steps reproduces the run)")
    b.add_argument("--unet-steps", type=POSITIVE, default=None)
    b.add_argument("--clip-steps", type=POSITIVE, default=None)
    b.add_argument("--judge-steps", type=POSITIVE, default=None)
    b.add_argument("--unet-batch", type=BATCH, default=None)
    b.add_argument("--n-train", type=int_in(1, 1_000_000, "--n-train"), default=None, help="EmoSet-mini training images (default 20000)")
    b.add_argument("--threads", type=WORKERS, default=None, help="torch threads (default: torch's)")
    b.add_argument("--eval-seeds", type=int_in(1, 10_000, "--eval-seeds"), default=None, help="seeds per prompt in the build's check (16)")
    b.add_argument("--eval-scenes", type=int_in(1, 1_000, "--eval-scenes"), default=None, help="scenes per object in the build's check (2)")
    b.add_argument("--no-check", action="store_true", help="skip the quality check and model card")
    b.set_defaults(func=main_build)

    c = zsub.add_parser("check", help="recompute a zoo's quality figures")
    c.add_argument("zoo", nargs="?", default="mini", help="'mini' (shipped) or a zoo folder")
    c.add_argument("--json", action="store_true", help="print the figures as JSON")
    c.add_argument("--seeds", type=int_in(1, 10_000, "--seeds"), default=16, help="seeds per content / emotion prompt (default 16)")
    c.add_argument("--scenes", type=int_in(1, 1_000, "--scenes"), default=2, help="scenes per object (default 2)")
    c.add_argument("--n-real", type=POSITIVE, default=None, help="held-out real images to judge (default: all)")
    c.add_argument("--card", action="store_true", help="also rewrite card.json/card.md/samples.png in DIR")
    c.set_defaults(func=main_check)

    st = zsub.add_parser("stats", help="how much of an emotion the content carries: entropies, I(E; C), Bayes "
                                      "rates for objects, scenes and both (a zoo's world, a dataset, EmoSet)")
    st.add_argument("zoo", nargs="?", default=None,
                    help="'mini' (default), a zoo folder or a paper .toml: the world / dataset it was built on")
    st.add_argument("--world", action="store_true", help="this emobench's EmoSet-mini world (exact), no zoo")
    st.add_argument("--dataset", type=Path, default=None,
                    help="an EmoSet-layout folder (EmoSet-mini's or EmoSet-118K's): count its annotations")
    st.add_argument("--empirical", action="store_true",
                    help="for a mini zoo: count its generated dataset's annotations instead of the exact tables")
    st.add_argument("--split", action="append", choices=["train", "val", "test"], default=None,
                    help="splits whose annotations are counted (repeatable; default all three)")
    st.add_argument("--official", type=Path, default=None,
                    help="EmoSet's figures beside: a folder written by `python -m emogen.official import` "
                         "(or a clone of the official EmoGen repository)")
    st.add_argument("--card", action="store_true", help="also write the table into the zoo folder's card")
    st.add_argument("--json", action="store_true", help="print the figures as JSON")
    st.set_defaults(func=main_stats)

    v = zsub.add_parser("validity", help="calibration and paper-ordering figures of a zoo, from a leaderboard")
    v.add_argument("leaderboard", type=Path, help="a report folder (leaderboard.csv) or the CSV, e.g. leaderboards/mini")
    v.add_argument("--card", type=Path, default=None, help="also write the figures into this zoo folder's card")
    v.add_argument("--json", action="store_true", help="print the figures as JSON")
    v.set_defaults(func=main_validity)

    vf = zsub.add_parser("verify", help="check a paper zoo's weight files against the published sha256 "
                                        "(emobench/zoo/weights.lock)")
    vf.add_argument("zoo", help="the paper zoo .toml")
    vf.add_argument("--rehash", action="store_true",
                    help="read every byte again (default: reuse hashes cached by file size and mtime)")
    vf.set_defaults(func=main_verify)

    w = zsub.add_parser("world", help="write EmoSet-mini (EmoSet layout) into a folder")
    w.add_argument("--out", required=True, type=Path)
    w.add_argument("--seed", type=int_in(0, 2 ** 32 - 1, "--seed"), default=0)
    w.add_argument("--n-train", type=int_in(1, 1_000_000, "--n-train"), default=20000)
    w.add_argument("--n-val", type=int_in(1, 200_000, "--n-val"), default=2000)
    w.add_argument("--n-test", type=int_in(1, 200_000, "--n-test"), default=2000)
    w.add_argument("--workers", type=int_in(1, 64, "--workers"), default=1)
    w.set_defaults(func=main_world)

    from emobench.zoo import fit_judges  # kit area: `zoo fit-judges --zoo paper.toml` (Emo-A probe)

    fit_judges.add_parser(zsub)
    from emobench.judges import fit as fit_panel  # `zoo fit-panel DIR`, `zoo validate-judges --zoo Z`

    fit_panel.add_parser(zsub)
    from emobench.zoo import tiny_paper  # `zoo make-tiny-paper DIR`: the paper layout, tiny, for a dry run
    tiny_paper.add_parser(zsub)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main_build(args: argparse.Namespace) -> int:
    from emobench.zoo.mini_build import build_config_from_args, build_mini

    build_mini(args.out, build_config_from_args(args), log=_log, run_check=not args.no_check)
    print(args.out)
    return 0


def main_validity(args: argparse.Namespace) -> int:
    from emobench.zoo.validity import render, validity, write_into_card

    v = validity(args.leaderboard)
    print(json.dumps(v.to_json(), indent=1) if args.json else "\n".join(render(v)))
    if args.card is not None:
        _log(f"card: {write_into_card(v, args.card)}")
    return 0


def main_stats(args: argparse.Namespace) -> int:
    from emobench.zoo import stats

    splits = tuple(args.split or stats.SPLITS)
    if sum(x is not None and x is not False for x in (args.zoo, args.dataset, args.world or None)) > 1:
        raise EmobenchError("zoo stats counts one zoo, dataset or world at a time",
                            "pass a zoo, --dataset DIR or --world (and --official DIR beside it)")
    sources = []
    if args.world:
        sources.append(stats.world_source())
    elif args.dataset is not None:
        sources.append(stats.dataset_source(args.dataset, splits))
    elif args.zoo is not None or args.official is None:
        sources.append(stats.zoo_source(args.zoo or "mini", empirical=args.empirical, splits=splits))
    if args.official is not None:
        sources.append(stats.official_source(args.official))
    if args.card:
        if args.zoo in (None, "mini") or not Path(args.zoo).is_dir():
            raise EmobenchError("--card writes into a zoo folder's card", "pass a zoo folder you built, not 'mini'")
        from emobench.zoo.card import write_content_stats

        _log(f"card: {write_content_stats(Path(args.zoo), sources)}")
    print(json.dumps(stats.stats_json(sources), indent=1) if args.json else "\n".join(stats.table_markdown(sources)))
    return 0


def main_check(args: argparse.Namespace) -> int:
    from emobench.zoo.check import check_zoo
    from emobench.zoo.load import load_zoo

    zoo = load_zoo(args.zoo)
    if zoo.scale == "custom":
        raise EmobenchError(f"{args.zoo} is a bare pipeline folder without judges or dataset",
                            "zoo check needs a zoo folder (zoo.json, judges/, dataset) such as 'mini'")
    result = check_zoo(zoo, n_seeds=args.seeds, scenes_per_object=args.scenes, n_real=args.n_real, log=_log)
    if args.card:
        if zoo.root is None or args.zoo == "mini":
            raise EmobenchError("--card rewrites a zoo folder's card", "pass a zoo folder you built, not 'mini'")
        from emobench.zoo.card import write_card

        card = json.loads((zoo.root / "card.json").read_text()) if (zoo.root / "card.json").is_file() else {}
        write_card(zoo.root, result, card.get("build", {}), card.get("build_total_wall_s", 0.0))
    if args.json:
        print(json.dumps(result.to_json(), indent=1, sort_keys=True))
    else:
        for k, v in result.figures.items():
            if not isinstance(v, dict):
                ok = result.bars.get(k)
                mark = "" if ok is None else ("  [bar met]" if ok else "  [bar NOT met]")
                print(f"{k:32s} {v:.4f}{mark}" if isinstance(v, float) else f"{k:32s} {v}{mark}")
    return 0


def main_verify(args: argparse.Namespace) -> int:
    """One line per file: official, DIFFERS (named, with both digests), MISSING or not pinned; exit 1 when a
    file differs from (or lacks) its pin."""
    from emobench.zoo.paper_judges import lpips_linear_file
    from emobench.zoo.paper_spec import read_paper_toml
    from emobench.zoo.weights_lock import DIFFERS, MISSING, OFFICIAL, verify_parts

    if not str(args.zoo).endswith(".toml"):
        raise EmobenchError(f"zoo verify checks a paper zoo's files; {args.zoo!r} is not a .toml",
                            "pass --zoo paper.toml (the mini zoo is checked by its own fit.json/zoo.json hashes)")
    spec = read_paper_toml(args.zoo)
    parts = {k: p.path for k, p in spec.parts.items() if k != "dataset"}
    linear = lpips_linear_file(spec.parts["judges.lpips"])
    parts["judges.lpips.linear"] = linear
    parts.update(_panel_files(spec.toml))
    absent = sorted(k for k, p in parts.items() if not p.exists())
    checks = verify_parts(parts, rehash=args.rehash)
    for key in sorted(checks):
        for c in checks[key]:
            print(c.line())
    for key in absent:
        print(f"[{key}] {parts[key]}: not there (nothing to check)")
    flat = [c for cs in checks.values() for c in cs]
    bad = [c for c in flat if c.status in (DIFFERS, MISSING)]
    n_official = sum(c.status == OFFICIAL for c in flat)
    print(f"{n_official} official, {len(bad)} differ, {len(flat) - n_official - len(bad)} not pinned "
          f"({len(absent)} part(s) absent)")
    for c in bad:
        print(f"emobench: {c.path} {c.status} from the published {c.pin.name}", file=sys.stderr)
    return 1 if bad else 0


def _panel_files(toml: Path) -> dict[str, Path]:
    """``[panel.<name>] path`` files of a paper TOML (EmoGen's released classifier and others)."""
    import os
    import tomllib

    doc = tomllib.loads(toml.read_text())
    out = {}
    for name, sec in (doc.get("panel") or {}).items():
        if isinstance(sec, dict) and sec.get("path"):
            path = Path(os.path.expandvars(str(sec["path"]))).expanduser()
            out[f"panel.{name}"] = path if path.is_absolute() else toml.parent / path
    return out


def main_world(args: argparse.Namespace) -> int:
    from emobench.world import write_emoset_mini

    out = write_emoset_mini(args.out, seed=args.seed, n_train=args.n_train, n_val=args.n_val, n_test=args.n_test,
                            workers=args.workers)
    print(out)
    return 0
