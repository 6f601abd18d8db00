"""`python -m core.jobs.worker`: serve the run queue, one run at a time, then exit when it is empty.

Started by `core.jobs.workers.ensure_workers()` (in a new session, so it outlives the page), or by hand.
It takes the oldest queued run under the launcher's lock (so two workers never take the same run),
marks it running with its own pid, and trains it in this process: killing the worker leaves the run
"interrupted" (resumable), SIGTERM / SIGINT stop it cleanly with a checkpoint and end the worker.
Each run's stray output (warnings, a traceback) goes to `<run>/output.log`; the trainer's own
account is in `<run>/train.log`.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback

from ..runs import Run
from ..settings import runs_root
from .listing import queued_runs, running_runs
from .places import locked, max_parallel
from .workers import register_worker, unregister_worker


class _Exit:
    def __init__(self):
        self.set = False

    def __call__(self, *_):
        self.set = True


def _say(msg: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} worker {os.getpid()}: {msg}", flush=True)


def claim_next(pid: int) -> tuple[Run | None, bool, bool]:
    """(run, resume, queue_empty). Under the lock: the oldest queued run, if a slot is free, marked running
    by this process. When the queue is empty the worker leaves the registry in the same locked step, so a
    run queued right after is seen by `ensure_workers`, which then starts a new worker."""
    with locked():
        queue = queued_runs(include_managed=False)
        if not queue:
            unregister_worker(pid)
            return None, False, True
        if len(running_runs()) >= max_parallel():
            return None, False, False
        run = queue[0]
        resume = bool(run.status().get("resume"))
        run.set_status("running", worker=pid)
        return run, resume, False


def serve(run: Run, resume: bool) -> bool:
    """Train one claimed run. Returns True if the worker should end (it was asked to, by a signal)."""
    from ..train import train

    _say(f"{'resuming' if resume else 'training'} {run.id}")
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(run.dir / "output.log", "ab") as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
    try:
        if run.stop_requested():  # stopped between the claim and now: never started
            run.clear_stop()
            run.mark_cancelled()
            return False
        errs = run.config().validate()
        if errs:
            raise ValueError("invalid configuration: " + "; ".join(errs))
        train(run=run, resume=resume, progress=False)
    except Exception as e:  # noqa: BLE001 - recorded in the run, the queue goes on
        traceback.print_exc()
        st = run.status()
        if st.get("state") == "running" and st.get("pid") == os.getpid():
            run.log(f"FAILED: {type(e).__name__}: {e}")
            run.set_status("failed", error=f"{type(e).__name__}: {e}")
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
    st = run.status()
    # stopped with neither a STOP file nor pruning: the trainer caught SIGTERM/SIGINT meant for the worker
    return st.get("state") == "stopped" and not st.get("pruned") and not run.stop_requested()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.jobs.worker", description="Train the queued runs one after "
                                "another (see core/jobs/queue.py); exits when the queue is empty.")
    p.add_argument("--poll", type=float, default=2.0, help="seconds between looks at the queue while waiting")
    a = p.parse_args(argv)
    pid = os.getpid()
    stop = _Exit()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, stop)
    with locked():
        register_worker(pid)
    _say(f"started; runs root {runs_root()}")
    try:
        import core.train  # noqa: F401  (import torch once, before the first claim)

        while not stop.set:
            run, resume, empty = claim_next(pid)
            if empty:
                _say("queue empty; exiting")
                return 0
            if run is None:
                time.sleep(a.poll)
                continue
            if stop.set:  # asked to end while claiming: put the run back
                with locked():
                    run.mark_queued(resume=resume)
                break
            if serve(run, resume):
                stop.set = True
            _say(f"{run.id}: {run.state()}")
        _say("asked to stop; exiting")
        return 0
    finally:
        with locked():
            unregister_worker(pid)


if __name__ == "__main__":
    sys.exit(main())
