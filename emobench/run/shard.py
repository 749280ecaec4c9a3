"""Scale-out: one run's plan cells sharded across processes started by ``accelerate launch`` (or torchrun).

    emobench run --launcher accelerate --num-processes 2 --methods sd,emogen --out runs/x
    accelerate launch --multi_gpu --num_processes 8 -m emobench run --methods sd,emogen --out runs/x

Each process (rank r of w) generates the cells at positions ``i ≡ r (mod w)`` of the plan into the **same**
content-addressed store (``images/<key>.png`` + ``.json``; keys do not depend on the rank, so no two ranks
ever write the same file). Nothing about an image depends on which rank made it: the plan's latent is drawn
from the seed on the CPU, and methods are contractually batch-independent.

Synchronisation is three gloo barriers and the file system, never tensor collectives:

* rank 0 resolves the run and writes its header files first (``main_first``), so the others find a run
  folder to join rather than racing to create one;
* a learning method is fitted by rank 0 first (same artifact key everywhere), the others then load it from
  the cache;
* at the end every rank writes ``shards/rank-<r>-of-<w>.json`` (its per-method outcomes), then rank 0 builds
  the manifest **from the store**: for every method and cell it looks the image's key up, so the merge is
  deterministic and independent of the number of processes or of which rank made what.

A shard that dies leaves the images it finished in the store (the launcher then stops the others). Running
the same command again with ``--resume RUN`` (any number of processes) regenerates only the cells with no
stored image; finished images are never rewritten.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator, Sequence

from emobench.errors import EmobenchError
from emobench.io.files import write_json

TIMEOUT_ENV = "EMOBENCH_SHARD_TIMEOUT"   # seconds a rank waits for the others at a barrier (default 24 h)


@dataclass(frozen=True)
class Shard:
    """This process's place in a sharded run; ``Shard(0, 1)`` is the ordinary single-process run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def label(self) -> str:
        return f"rank-{self.rank}-of-{self.world}"

    def owns(self, index: int) -> bool:
        return index % self.world == self.rank

    def select(self, all_cells: Sequence[Any], todo: Sequence[Any] | None = None) -> list[Any]:
        """The cells of ``todo`` (default: all) this rank generates. Ownership is by position in the whole plan, which every
        rank sees identically, never by position in ``todo`` (each rank reads the store at its own moment)."""
        todo = all_cells if todo is None else todo
        if not self.active:
            return list(todo)
        mine = {c for i, c in enumerate(all_cells) if self.owns(i)}
        return [c for c in todo if c in mine]

    # ------------------------------------------------------------------------------------ sync
    def barrier(self, what: str) -> None:
        if not self.active:
            return
        import torch.distributed as dist

        try:
            dist.monitored_barrier(timeout=_timeout(), wait_all_ranks=True)
        except RuntimeError as err:
            raise EmobenchError(
                f"rank {self.rank}: another shard did not reach '{what}' ({str(err).splitlines()[0]})",
                "images finished by every shard are kept in the run's store; rerun the same command with "
                "--resume RUN_DIR to generate only what is missing") from err

    @contextlib.contextmanager
    def main_first(self, what: str) -> Iterator[None]:
        """Rank 0 runs the block, then the others (each rank passes exactly one barrier, even on error)."""
        if not self.is_main:
            self.barrier(what)
        try:
            yield
        finally:
            if self.is_main:
                self.barrier(what)


def _timeout() -> timedelta:
    return timedelta(seconds=float(os.environ.get(TIMEOUT_ENV, 86400)))


def from_env() -> Shard:
    """The shard of this process: ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` as set by accelerate or torchrun."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as err:
        raise EmobenchError(f"bad distributed environment ({err})", "launch with accelerate launch or torchrun") from err
    if world < 1 or not 0 <= rank < world:
        raise EmobenchError(f"RANK={rank} / WORLD_SIZE={world} is not a valid shard",
                            "launch with accelerate launch or torchrun")
    return Shard(rank, world, local)


def init(cfg: Any = None, resume: Path | None = None) -> Shard:
    """Join the process group when launched with several processes (gloo: barriers only, any device);
    pin this rank's GPU so ``"cuda"`` means its own card."""
    shard = from_env()
    if not shard.active:
        return shard
    if cfg is not None and not getattr(cfg, "out", None) and resume is None:
        raise EmobenchError("a sharded run needs an explicit run directory (each process would otherwise "
                            "pick its own timestamped folder)", "pass --out RUN_DIR (or --resume RUN_DIR)")
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo", timeout=_timeout())
    if torch.cuda.is_available():
        torch.cuda.set_device(shard.local_rank % torch.cuda.device_count())
    return shard


# ---------------------------------------------------------------------------------------- merge
def write_outcomes(run_dir: Path, shard: Shard, outcomes: Sequence[dict[str, Any]]) -> None:
    write_json(run_dir / "shards" / f"{shard.label}.json", {"rank": shard.rank, "world": shard.world,
                                                           "outcomes": list(outcomes)})


def read_outcomes(run_dir: Path, world: int) -> dict[int, list[dict[str, Any]]]:
    out = {}
    for rank in range(world):
        path = run_dir / "shards" / f"rank-{rank}-of-{world}.json"
        if path.is_file():
            out[rank] = json.loads(path.read_text())["outcomes"]
    return out


def merge_outcome(label: str, mine: dict[str, Any], others: dict[int, list[dict[str, Any]]]) -> dict[str, Any]:
    """One method's outcome over all ranks: failed if any rank failed (first failing rank's reason)."""
    merged = dict(mine)
    per_rank = {r: next((o for o in outs if o["label"] == label), None) for r, outs in sorted(others.items())}
    merged["n_generated"] = sum(int(o.get("n_generated", 0)) for o in per_rank.values() if o)
    merged["wall_s"] = max([float(o.get("wall_s", 0.0)) for o in per_rank.values() if o] or [0.0])
    for r, o in per_rank.items():
        if o is not None and o.get("status") != "ok":
            merged["status"], merged["reason"] = "failed", f"shard {r}: {o.get('reason')}"
            break
    return merged


# ------------------------------------------------------------------------------------- launcher
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def default_processes() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 2


def launch_command(launcher: str, n: int, argv: Sequence[str]) -> list[str]:
    """The command that starts ``n`` copies of ``emobench <argv>`` under ``launcher``."""
    if launcher == "accelerate":
        # --multi_gpu is accelerate's multi-process launcher (torchrun underneath); on a CPU-only machine the
        # processes get RANK/WORLD_SIZE all the same and emobench talks gloo between them.
        return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(n),
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                "--main_process_port", str(free_port()), "-m", "emobench", *argv]
    if launcher == "torchrun":
        return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(n), "--master_port",
                str(free_port()), "-m", "emobench", *argv]
    raise EmobenchError(f"unknown launcher {launcher!r}", "use --launcher accelerate or --launcher torchrun")


def relaunch(launcher: str, n: int | None, argv: Sequence[str]) -> int:
    """Run ``emobench <argv>`` as ``n`` processes and wait; returns the launcher's exit code."""
    n = default_processes() if n is None else n
    if n < 1:
        raise EmobenchError(f"--num-processes {n}", "pass 1 or more")
    cmd = launch_command(launcher, n, argv)
    print(f"emobench: launching {n} processes: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    return subprocess.call(cmd)


def finish(shard: Shard, run_dir: Path, outcomes: Sequence[Any], store: Any,
           keys: dict[str, dict[Any, str]]) -> tuple[list[Any], list[Any]] | None:
    """After this rank's methods: publish its outcomes, wait for every rank, and on rank 0 return the merged
    ``(outcomes, records)`` built from the store (``None`` on the other ranks). ``keys``: per method label,
    the image key of every plan cell (the runner's; a method that failed to import has none).

    A method is ``ok`` only if every rank reported it ok **and** every plan cell has a stored image."""
    write_outcomes(run_dir, shard, [{"label": o.label, **{k: v for k, v in dataclasses.asdict(o).items()
                                                         if k != "label"}} for o in outcomes])
    shard.barrier("the end of generation")
    if not shard.is_main:
        return None
    reports = read_outcomes(run_dir, shard.world)
    merged_outcomes, records = [], []
    for outcome in outcomes:
        merged = merge_outcome(outcome.label, {"status": outcome.status, "reason": outcome.reason}, reports)
        found = []
        cell_keys = keys.get(outcome.label) or {}
        if cell_keys and merged["status"] == "ok":
            for key in cell_keys.values():
                rec = store.lookup(key)
                if rec is not None:
                    found.append(dataclasses.replace(rec, method=outcome.label))
            if len(found) < len(cell_keys):
                merged["status"] = "failed"
                merged["reason"] = (f"{len(cell_keys) - len(found)} of {len(cell_keys)} cells have no stored image "
                                    "(a shard stopped early); rerun with --resume RUN_DIR")
        merged_outcomes.append(dataclasses.replace(outcome, status=merged["status"], reason=merged["reason"],
                                                   n_generated=merged["n_generated"], wall_s=merged["wall_s"],
                                                   n_images=len(found)))
        if merged["status"] == "ok":
            records.extend(found)
    return merged_outcomes, records


def prefit(shard: Shard, ms: Any, zoo: Any, cfg: Any, progress: bool) -> None:
    """Rank 0 fits (or finds) a learning method's artifacts while the other ranks wait, so exactly one
    process writes them; a failure here is left for the method's own run to report."""
    if ms.method is None or not type(ms.method).learns:
        return
    from emobench.run import artifacts

    with shard.main_first(f"fitting {ms.label}"):
        if shard.is_main:
            try:
                artifacts.ensure(ms.plugin, ms.method, zoo, cfg.emotions, refit=cfg.refit, progress=progress)
            except Exception:  # noqa: BLE001 — run_method records the failure with its reason
                pass


def generation_config(cfg: Any, shard: Shard) -> Any:
    """The config the generation step sees: in a sharded run ``--refit`` was honoured by ``prefit``, so the
    ranks must not fit again."""
    return dataclasses.replace(cfg, refit=False) if shard.active and cfg.refit else cfg
