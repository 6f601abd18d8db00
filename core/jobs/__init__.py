"""Layer 7, jobs: work that outlives the page that started it. The run queue and its workers (queue,
listing, workers, worker), hyper-parameter searches (search: an Optuna study whose trials are runs) and the
searches the app starts in the background (background). Imports layers 0-6 (runs, train); never the
workflows or the CLI, which it starts only as processes (`python -m core search`).

    from core import jobs
    run = jobs.submit(config)     # queued; a worker process trains it
"""
from .background import search_alive, search_log, search_processes, start_search, stop_search
from .listing import active_runs, queue_position, queue_snapshot, queued_runs, running_runs
from .places import MAX_PARALLEL, check_study_name, launcher_dir, locked, max_parallel, searches_dir, settings
from .queue import acquire_slot, cancel, resume, set_max_parallel, stop, submit
from .workers import ensure_workers, live_workers, register_worker, unregister_worker

__all__ = ["MAX_PARALLEL", "acquire_slot", "active_runs", "cancel", "check_study_name", "ensure_workers",
           "launcher_dir", "live_workers", "locked", "max_parallel", "queue_position", "queue_snapshot", "queued_runs", "register_worker",
           "resume", "running_runs", "search_alive", "search_log", "search_processes", "searches_dir",
           "set_max_parallel", "settings", "start_search", "stop", "stop_search", "submit", "unregister_worker"]
