"""One run on several processes (PyTorch DistributedDataParallel), as `torchrun` starts them: gloo on the
CPU, NCCL on GPUs. Each rank trains on its own disjoint shard of every epoch; gradients are averaged by
DDP, and the BatchNorm statistics are rank 0's after every epoch, so the model is identical on every rank;
rank 0 alone writes the run folder and evaluates.

Outside torchrun (no RANK / WORLD_SIZE in the environment) everything here is the single-process case and
costs nothing. Collective calls have a timeout (FEL_DDP_TIMEOUT, 300 s), so a rank that dies or hangs ends
the others with an error instead of a hang, and the run ends "failed" with the reason: recorded by rank 0,
or by another rank when rank 0 itself is gone (`record_lost_rank0`).
"""
from __future__ import annotations

import datetime
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from .. import settings

TIMEOUT_S = 300


@dataclass
class Context:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def under_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def timeout_s() -> int:
    return settings.ddp_timeout() or TIMEOUT_S


def setup(device_type: str = "cpu") -> Context:
    """Join the process group torchrun set up (once per process); the single-process context otherwise."""
    if not under_torchrun():
        return Context()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        if device_type == "cuda":  # one GPU per rank, before the first collective (NCCL runs on it)
            torch.cuda.set_device(local_rank)
        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s()))
    return Context(dist.get_rank(), dist.get_world_size(), local_rank)


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard(perm: torch.Tensor, ctx: Context) -> torch.Tensor:
    """This rank's part of an epoch's permutation: every `world`-th index from `rank`; disjoint across ranks,
    and together they cover the epoch (less the ragged tail the loop drops anyway)."""
    return perm[ctx.rank::ctx.world] if ctx.active else perm


def any_rank(flag: bool, ctx: Context) -> bool:
    """True on every rank when it is true on any rank (a stop asked on one stops all, at the same step)."""
    if not ctx.active:
        return bool(flag)
    t = torch.tensor([1 if flag else 0], dtype=torch.int32)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def sum_over_ranks(values: list[float], ctx: Context) -> list[float]:
    """Each value summed over the ranks (the epoch's loss, hits and images, from every shard)."""
    if not ctx.active:
        return list(values)
    t = torch.tensor([float(v) for v in values], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def share(value, ctx: Context):
    """Rank 0's value (e.g. the run id it created), on every rank."""
    if not ctx.active:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


_RAISABLE = {c.__name__: c for c in (ValueError, FileNotFoundError, FileExistsError, RuntimeError, OSError)}


def on_rank0(fn, ctx: Context):
    """`fn()` on rank 0 alone (make the run folder, check a run can be resumed), its result on every rank; an
    error there is raised on every rank, so no rank waits for a run that never comes."""
    if not ctx.active:
        return fn()
    result, error = None, None
    if ctx.main:
        try:
            result = fn()
        except Exception as e:  # noqa: BLE001 - told to every rank, then raised here as it was
            error = e
    told = share((result, None if error is None else (type(error).__name__, str(error))), ctx)
    if error is not None:
        raise error
    if told[1] is not None:
        raise _RAISABLE.get(told[1][0], RuntimeError)(told[1][1])
    return told[0]


def sync_buffers(model: torch.nn.Module, ctx: Context) -> None:
    """Rank 0's BatchNorm statistics on every rank (each rank's last forward updated its own): after this
    the ranks hold one model, and evaluate and save the same one."""
    if not ctx.active:
        return
    with torch.no_grad():
        for b in model.buffers():
            dist.broadcast(b, src=0)


def wrap(model: torch.nn.Module, ctx: Context, device: torch.device) -> torch.nn.Module:
    if not ctx.active:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def check_world(last_path, world: int) -> None:
    """A run resumes on as many processes as it trained on (its schedule counts steps of the whole batch of
    all ranks): ValueError, saying how, otherwise. Read before anything about the run changes."""
    from ..models.checkpoint import read_state

    path = Path(last_path)
    if not path.exists():
        return
    trained = int(read_state(path, mmap=True).get("world", 1))
    if trained != world:
        rid = path.parent.name
        how = (f"python -m core train --nproc {trained} --resume {rid} (or torchrun --nproc_per_node {trained} -m "
               f"core train --resume {rid})") if trained > 1 else f"python -m core train --resume {rid}"
        raise ValueError(f"run {rid} was trained on {trained} process{'es' if trained > 1 else ''}, not {world}: "
                         f"resume it with {how}")


def explain(error: BaseException, ctx: Context) -> str:
    """The reason a rank's training ended, in words: a collective that broke means another rank is gone."""
    if ctx.active and _broken_off(error):
        return (f"another of the {ctx.world} training processes stopped (it died, was killed, or hung for "
                f"{timeout_s()} s): {_first_words(error)}")
    return f"{type(error).__name__}: {error}"


def _broken_off(error: BaseException) -> bool:
    """A collective that failed because a peer is gone or silent (gloo, NCCL, the store)."""
    return isinstance(error, (RuntimeError, dist.DistError)) and any(
        k in str(error) for k in ("gloo", "Gloo", "NCCL", "onnection", "imed out", "imeout", "peer"))


def _first_words(error: BaseException) -> str:
    return str(error).splitlines()[0].split(". This is typically")[0][:300]  # gloo's words, less its advice


def record_lost_rank0(run, error: BaseException, ctx: Context) -> None:
    """On a rank other than 0 whose training broke off: if rank 0 is gone without a word (its lock free, the
    run still 'running' under its dead process), the run failed: say so and why. Rank 0, when alive, says
    it itself (it holds the lock until it has)."""
    from ..runs import RunBusy

    for _ in range(10):
        try:
            with run.hold():
                if run.state() == "interrupted":
                    reason = f"training process rank 0 died (rank {ctx.rank} saw: {_first_words(error)})"
                    run.log("FAILED: " + reason)
                    run.set_status("failed", error=reason)
            return
        except RunBusy:
            time.sleep(0.3)
        except OSError:
            return
