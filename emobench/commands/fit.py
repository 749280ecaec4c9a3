"""``emobench fit METHOD``: fit a learning method's artifacts (or find them cached / shipped with the zoo)."""
from __future__ import annotations

import argparse

from emobench.emotions import EMOTIONS


def add_parser(sub) -> None:
    from emobench.cliargs import SEED   # range-checked while parsing

    p = sub.add_parser("fit", help="fit a learning method on the zoo's emotion dataset and cache its artifacts")
    p.add_argument("method", help="method spec, e.g. 'emogen' or 'textual-inversion:steps=100'")
    p.add_argument("--emotions", help="comma list (default: all eight)")
    p.add_argument("--zoo", default="mini", help="mini (default), a zoo folder or a paper TOML")
    p.add_argument("--refit", action="store_true", help="fit again even if artifacts exist")
    p.add_argument("--fit-seed", dest="fit_seed", type=SEED, default=0,
                   help="seed of the fit (initialisation, data order, noise; default 0)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from emobench import registry
    from emobench.run import artifacts
    from emobench.spec.config import merge
    from emobench.errors import EmobenchError

    emotions = merge({"emotions": args.emotions}).emotions if args.emotions is not None else EMOTIONS
    from emobench.zoo.load import load_zoo, zoo_scale

    label, method = registry.methods().create(args.method, zoo_scale(args.zoo))   # paper budgets at paper scale
    if not type(method).learns:
        raise EmobenchError(f"method {label!r} does not learn, so there is nothing to fit",
                            "fit a learning method (`emobench list methods` marks them [learns])")
    zoo = load_zoo(args.zoo)
    art = artifacts.ensure(registry.parse_spec(args.method)[0], method, zoo, emotions, refit=args.refit,
                           seed=args.fit_seed)
    print(f"{label}: artifact {art.key} ({art.source}) at {art.path}")
    return 0
