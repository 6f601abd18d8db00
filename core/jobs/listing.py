"""The queue, read from the run folders: which runs wait (oldest first), which train now."""
from __future__ import annotations

from ..runs import Run, list_runs


def _queued_at(run: Run) -> float:
    st = run.status()
    return float(st.get("queued") or st.get("updated") or 0)


def queued_runs(root=None, include_managed: bool = True) -> list[Run]:
    """Runs waiting to start, oldest first. `managed` runs (search trials) wait for their own process."""
    out = []
    for r in list_runs(root):
        st = r.status()
        if st.get("state") == "queued" and (include_managed or not st.get("managed")):
            out.append(r)
    return sorted(out, key=lambda r: (_queued_at(r), r.id))


def running_runs(root=None) -> list[Run]:
    return [r for r in list_runs(root) if r.state() == "running"]


def queue_snapshot(root=None) -> tuple[list[Run], list[Run]]:
    """(running runs, newest first; the queue, in the order it will be served) from one reading of each run's
    state: a run that starts meanwhile is in one list or the other, never in both or neither, so a page drawing
    both says the same thing everywhere."""
    running, queued = [], []
    for r in list_runs(root):
        state = r.state()
        if state == "running":
            running.append(r)
        elif state == "queued":
            queued.append(r)
    return running, sorted(queued, key=lambda r: (_queued_at(r), r.id))


def active_runs(root=None) -> list[Run]:
    """Running runs (newest first), then the queue in the order it will be served."""
    running, queued = queue_snapshot(root)
    return running + queued


def queue_position(run: Run, root=None) -> int | None:
    """1 for the next run to start, None if the run is not waiting."""
    ids = [r.id for r in queued_runs(root)]
    return ids.index(run.id) + 1 if run.id in ids else None
