"""``emobench verify RUN_DIR``: check stored images against their sha256 and the environments of the resumes."""
from __future__ import annotations

import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("verify", help="check a run against its plan (every planned cell has a record and image), its images (sha256) and whether resumes ran in another environment")
    p.add_argument("run_dir", type=Path, help="run directory")
    p.set_defaults(func=main)


def main(args) -> int:
    from emobench.run.verify import verify_run

    res = verify_run(args.run_dir)
    for line in res.env_changes:
        print(f"emobench verify: note: {line}")
    for line in res.missing:
        print(f"emobench verify: {line}", file=sys.stderr)
    for path in res.bad_images:
        print(f"emobench verify: {path} is missing or does not match its sha256", file=sys.stderr)
    same = "every resume ran in the environment that made the images" if not res.env_changes else \
        f"{len(res.env_changes)} resume(s) ran in a different environment (see above)"
    planned = "every planned cell of every finished method has its record" if not res.missing else \
        f"{len(res.missing)} finished method(s) lack planned cells (see above)"
    print(f"{res.n_images - len(res.bad_images)}/{res.n_images} images match their sha256; {planned}; {same}")
    return 0 if res.ok else 1
