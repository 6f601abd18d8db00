"""The environment of a process a test or a benchmark starts, with the hooks (harness/hooks) it asks for."""
from __future__ import annotations

import os
from pathlib import Path

HOOKS = Path(__file__).resolve().parent / "hooks"


def hooked_env(env: dict | None = None, **variables) -> dict:
    """`env` (default: ours) for a process a test starts, with harness/hooks first on PYTHONPATH (its
    sitecustomize.py installs the test-only code) and `variables` (FEL_DDP_TRACE, FEL_WEBCAM_STATS) set."""
    env = dict(os.environ if env is None else env)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([str(HOOKS), *paths])
    env.update({k: str(v) for k, v in variables.items()})
    return env
