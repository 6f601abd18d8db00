"""Test-only (harness/hooks, FEL_DDP_TRACE=<folder>): each training rank writes what it trained on in every epoch
and a digest of its final model, so a test can check the shards are disjoint and the ranks end identical."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path


def digest(state_dict) -> str:
    """One hash of a model's weights, the same on every rank that holds the same model."""
    h = hashlib.sha256()
    for k, v in sorted(state_dict.items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class Trace:
    """What `_Training` tells its `trace`: each batch's sample indices (`add`), the final model (`write`)."""

    def __init__(self, folder, ctx):
        self.path, self.ctx, self.seen = Path(folder) / f"rank{ctx.rank}.json", ctx, {}

    def add(self, epoch: int, idx) -> None:
        self.seen.setdefault(epoch, []).extend(int(i) for i in idx.tolist())

    def write(self, model) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"rank": self.ctx.rank, "world": self.ctx.world,
                                         "digest": digest(model.state_dict()), "seen": self.seen}))


def install(loop, folder: str) -> None:
    """Every `_Training` of core.train.loop (the module given) gets a Trace into `folder`."""
    init = loop._Training.__init__

    def traced(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.trace = Trace(folder, self.ctx)

    loop._Training.__init__ = traced
