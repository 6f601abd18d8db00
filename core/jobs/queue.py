"""Start training runs as processes that outlive the page that started them: a queue, kept in files like
everything else.

- `submit(config)` makes a run folder in state "queued" and makes sure a worker is alive;
- a worker (`python -m core.jobs.worker`) takes the oldest queued run, trains it in its own process,
  takes the next, and exits when the queue is empty;
- at most `max_parallel` runs train at once (default 1: a small machine is not made faster by sharing
  it). Every live run in the runs root counts, whoever started it (the CLI, a search);
- `stop(run)` asks a running run to stop (it saves last.pt mid-epoch) or cancels a queued one;
  `resume(run)` queues a stopped, interrupted or failed run again, to continue from last.pt.

Who holds what is decided under one lock file (core.jobs.places.locked). A worker that dies leaves its
run "running" with a dead pid, which `Run.state()` reads as "interrupted": resumable, nothing lost.
Streamlit restarts do not matter: all state is in files and processes. No shell is ever involved:
processes are started from fixed argument lists whose variable parts are validated first.
"""
from __future__ import annotations

import time

from ..config import TrainConfig
from ..runs import Run
from ..train.preflight import check_before_start
from .listing import running_runs
from .places import MAX_PARALLEL, locked, max_parallel, write_settings
from .workers import ensure_workers


def submit(config: TrainConfig, root=None, start_worker: bool = True) -> Run:
    """A new run folder, queued; a worker is started if none is there to take it. What can fail before any
    work (the config, a GPU where there is none, a teacher) is refused before anything is made. The data set
    is read by the worker (the Train page reads it before it offers Start); one that fails there fails its
    run, with the reason, and the queue goes on."""
    try:
        check_before_start(config, data=False)
    except (ValueError, RuntimeError) as e:
        raise ValueError(str(e)) from e
    with locked(root):  # created and stamped in one step: a worker cannot claim it half-written
        run = Run.create(config, root=root, state="queued", resume=False)
    if start_worker:
        ensure_workers(root)
    return run


def stop(run: Run, root=None) -> str:
    """Stop a run: a running one saves last.pt and ends as "stopped" (resumable); a queued one is
    cancelled without starting. Returns what happened: "stopping", "cancelled" or the state it was in."""
    with locked(root):
        state = run.state()
        if state == "queued":
            run.mark_cancelled()
            return "cancelled"
        if state == "running":
            run.request_stop()
            return "stopping"
        return state


def cancel(run: Run, root=None) -> None:
    """Take a queued run out of the queue (it becomes "stopped"; resume() queues it again)."""
    with locked(root):
        state = run.state()
        if state != "queued":
            raise ValueError(f"run {run.id} is {state}, not queued: only queued runs can be cancelled")
        run.mark_cancelled()


def resume(run: Run, root=None, start_worker: bool = True) -> Run:
    """Queue a stopped, interrupted or failed run again; it continues from its last checkpoint
    (last.pt, saved mid-epoch on a stop and after every epoch), or starts over if it has none."""
    with locked(root):
        run.check_resumable()
        run.clear_stop()
        run.mark_queued(resume=True)
    run.log("queued again to resume" + (" from its last checkpoint" if run.last_path.exists() else
                                        " (no checkpoint yet: it starts from the beginning)"))
    if start_worker:
        ensure_workers(root)
    return run


def set_max_parallel(n: int, root=None) -> int:
    n = int(n)
    if not 1 <= n <= MAX_PARALLEL:
        raise ValueError(f"runs at once must be between 1 and {MAX_PARALLEL}")
    with locked(root):
        write_settings(root, max_parallel=n)
    ensure_workers(root)
    return n


def acquire_slot(run: Run, root=None, poll: float = 2.0, should_stop=None, on_wait=None) -> bool:
    """Block until fewer than max_parallel runs are running, then mark `run` running (owned by this
    process). False if the run stopped being queued meanwhile (cancelled) or `should_stop()` says so."""
    told = False
    while True:
        with locked(root):
            if run.state() != "queued":
                return False
            busy = [r for r in running_runs(root) if r.id != run.id]
            if len(busy) < max_parallel(root):
                run.set_status("running")
                return True
        if should_stop is not None and should_stop():
            return False
        if on_wait is not None and not told:
            on_wait(busy)
            told = True
        time.sleep(poll)
