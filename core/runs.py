"""Layer 4, runs: a run is a folder, and the folder is the truth: the app, the CLI and the trainer read the
same files. Imports layers 0-3 (settings, files, processes, config).

    model/runs/<run-id>/  config.json  metrics.jsonl  steps.jsonl  status.json  progress.json  info.json
                          evaluations.json  best.pt  last.pt  train.log  [STOP]  .lock
    graphs/runs/<run-id>/ loss.png  accuracy.png  confusion.png

metrics.jsonl is append-only, one flushed line per finished epoch; steps.jsonl too, a few lines per epoch (the
running training loss and accuracy, for live curves within an epoch). status.json records the process that
owns the run (pid, its start time, host), so a run whose process died reads as interrupted, not running;
`Run.set_status` is its only writer. `Run.hold()` is the lock a process keeps for as long as it trains the
run: no second process can train it meanwhile, and the kernel releases it on any exit.

A shipped model is a run too, read-only: `graphs/<name>/` holds its config and per-epoch metrics, and its
card (`model/<name>.card.json`) its test figures (`ShippedRun`, `list_shipped_runs`).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import shutil
import time
from pathlib import Path

from .config import TrainConfig
from .files import append_line, read_lines, read_object, write_json, write_lines
from .records import SAFE_ID, STATES, FolderRecord, check_id, slug
from .records import new_id as new_run_id
from .settings import graphs_root, model_dir, runs_root, shipped_graphs_dir

__all__ = ["RESUMABLE", "SAFE_ID", "SHIPPED_PREFIX", "STATES", "Run", "RunBusy", "ShippedRun", "check_run_id",
           "epoch_row_problem", "list_runs", "list_shipped_runs", "new_run_id", "open_run", "runs_root", "slug",
           "write_json"]

RESUMABLE = ("stopped", "interrupted", "failed")
SHIPPED_PREFIX = "model:"  # the id of a shipped model's history on the pages ("model:seed-vgg")


class RunBusy(RuntimeError):
    """The run is being trained by another live process (or is waiting in the queue for one)."""


def check_run_id(run_id) -> str:
    return check_id(run_id, "run")


class Run(FolderRecord):
    """A training run's folder (core.records: status, progress, STOP, the log, delete, list)."""

    kind, marker, log_name = "run", "config.json", "train.log"
    default_root = staticmethod(lambda: runs_root())
    shipped = False

    def __init__(self, directory, graphs_dir=None):
        super().__init__(directory)
        self.graphs_dir = Path(graphs_dir) if graphs_dir else graphs_root() / self.id

    # ------------------------------------------------------------ creation and lookup
    @classmethod
    def create(cls, config: TrainConfig, root=None, graphs=None, state: str = "queued", **status) -> "Run":
        """A new run folder with its config and first status, written in one step each."""
        folder = cls.new_folder(config.name or config.model, root)
        run = cls(folder, (Path(graphs) if graphs else graphs_root()) / folder.name)
        run.config_path.write_text(config.to_json())
        run.set_status(state, fresh=True, created=time.time(), **({"queued": time.time()} if state == "queued" else {}),
                       **status)
        return run

    # ------------------------------------------------------------ paths
    config_path = property(lambda self: self.dir / "config.json")
    metrics_path = property(lambda self: self.dir / "metrics.jsonl")
    steps_path = property(lambda self: self.dir / "steps.jsonl")
    info_path = property(lambda self: self.dir / "info.json")
    evaluations_path = property(lambda self: self.dir / "evaluations.json")
    best_path = property(lambda self: self.dir / "best.pt")
    last_path = property(lambda self: self.dir / "last.pt")
    lock_path = property(lambda self: self.dir / ".lock")

    # ------------------------------------------------------------ contents
    def config(self) -> TrainConfig:
        """The run's config; ValueError saying what is wrong when config.json is damaged (not JSON, a value of
        the wrong type), so that one run's file never reads as another's traceback."""
        try:
            return TrainConfig.from_dict(json.loads(self.config_path.read_text()))
        except ValueError as e:
            raise ValueError(f"run {self.id}: config.json is damaged: {e}") from None

    def metrics(self) -> list[dict]:
        """Finished epochs, in order, up to the first line that is not one: a torn last line (process killed
        mid-write) or a damaged one (`problem` says which)."""
        rows = []
        for row in read_lines(self.metrics_path):
            if epoch_row_problem(row):
                break
            rows.append(row)
        return rows

    def problem(self) -> str:
        """What is damaged in the folder ("" when nothing is): its config, status or metrics file."""
        try:
            self.config()
        except (ValueError, OSError) as e:
            return str(e).removeprefix(f"run {self.id}: ")
        if self.status().get("damaged"):
            return self.status()["error"]
        for i, row in enumerate(read_lines(self.metrics_path), 1):
            why = epoch_row_problem(row)
            if why:
                return f"metrics.jsonl line {i} is damaged: {why}"
        return ""

    def append_metrics(self, row: dict) -> None:
        append_line(self.metrics_path, row)

    def rewrite_metrics(self, rows: list[dict]) -> None:
        """Only for resume: keep exactly the epochs the checkpoint has (drops a torn or extra line)."""
        write_lines(self.metrics_path, rows)

    def steps(self) -> list[dict]:
        """The running training loss and accuracy within epochs, a few points per epoch (steps.jsonl; none in a
        run made before it was written): `epoch` is fractional (1.5 = half of the second epoch), `step` counts
        batches from the start. Up to the first line that is not such a point (a torn last line)."""
        rows = []
        for row in read_lines(self.steps_path):
            if not (isinstance(row, dict) and all(isinstance(row.get(k), (int, float)) and not isinstance(row[k], bool)
                                                  for k in ("epoch", "step", "train_loss", "train_acc"))):
                break
            rows.append(row)
        return rows

    def append_step(self, row: dict) -> None:
        append_line(self.steps_path, row)

    def trim_steps(self, upto: int) -> None:
        """Only for a start or a resume: keep the points up to batch `upto` (the checkpoint's); 0 keeps none."""
        if self.steps_path.exists():
            write_lines(self.steps_path, [r for r in self.steps() if r["step"] <= upto] if upto else [])

    def mark_queued(self, resume: bool = False, **fields) -> dict:
        return self.set_status("queued", fresh=True, queued=time.time(), resume=bool(resume), **fields)

    def mark_cancelled(self) -> dict:
        """Taken out of the queue before it started (it can still be resumed, i.e. queued again)."""
        self.log("cancelled before it started")
        return self.set_status("stopped", fresh=True, cancelled=True)

    def check_resumable(self) -> None:
        """ValueError (what the run is doing) unless the run can be trained again: stopped, interrupted, failed."""
        state = self.state()
        if state not in RESUMABLE:
            what = {"running": "is being trained by a live process", "queued": "is already queued",
                    "finished": "has finished"}
            raise ValueError(f"run {self.id} {what.get(state, 'is ' + state)}: nothing to resume")

    @contextlib.contextmanager
    def hold(self):
        """The run's lock, for as long as this process trains it: RunBusy if another process holds it. The
        kernel drops it when the process ends, however it ends."""
        f = open(self.lock_path, "a+")
        try:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.EACCES):
                    pid = self.status().get("pid")
                    raise RunBusy(f"run {self.id} is being trained by another process"
                                  + (f" (pid {pid})" if pid else "") + ": wait for it, or stop it first") from None
                raise
            yield self
        finally:
            f.close()

    def info(self) -> dict:
        """What the user says about a run (title, promoted, notes): kept apart from what training wrote."""
        return read_object(self.info_path, {})

    def update_info(self, **fields) -> dict:
        data = {**self.info(), **fields}
        write_json(self.info_path, data)
        return data

    @property
    def user_title(self) -> str:
        """The title the user gave the run on the Experiments page ("" if none)."""
        return str(self.info().get("title") or "")

    @property
    def title(self) -> str:
        """What to call a run: the title the user gave it, else the name it was started with, else its id."""
        if self.user_title:
            return self.user_title
        name = read_object(self.config_path, {}).get("name")
        return str(name) if name else self.id

    def summary(self) -> dict:
        return read_object(self.dir / "summary.json", {})

    # ------------------------------------------------------------ evaluations made after training
    def evaluations(self) -> list[dict]:
        items = read_object(self.evaluations_path, {}).get("items")
        return [e for e in items if isinstance(e, dict)] if isinstance(items, list) else []

    def save_evaluation(self, result: dict) -> dict:
        """Keep an evaluation (a split, a TTA, a data set) with the run; a new one replaces the same kind."""
        item = {k: result.get(k) for k in ("split", "tta", "data", "n", "accuracy", "macro_f1", "loss", "classes",
                                            "confusion", "per_class")}
        item["time"] = time.time()
        same = (item["split"], item["tta"], item["data"])
        items = [e for e in self.evaluations() if (e.get("split"), e.get("tta"), e.get("data")) != same]
        write_json(self.evaluations_path, {"items": items + [item]})
        return item

    # ------------------------------------------------------------ the log
    def log(self, message: str) -> None:
        with open(self.log_path, "a") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")

    # ------------------------------------------------------------ control
    def remove_orphaned_temp_files(self) -> list[Path]:
        """Checkpoint temp files (`.last.pt.tmp<pid>`) a process killed mid-save left behind, each a whole
        checkpoint's size. Only with the run held (`hold`): then no other process is saving one."""
        removed = sorted(self.dir.glob(".*.pt.tmp*"))
        for p in removed:
            p.unlink(missing_ok=True)
        return removed

    def delete(self) -> None:
        """Remove the run's folder and curves: only a run folder (a valid id, its config.json), in the runs folder
        it was listed or opened in (not necessarily the default one), never while its process runs."""
        super().delete()
        shutil.rmtree(self.graphs_dir, ignore_errors=True)


def epoch_row_problem(row) -> str:
    """What makes a metrics.jsonl line not an epoch ("" when it is one): the pages and the CLI read these keys."""
    if not isinstance(row, dict):
        return "not an object"
    number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
    if not (number(row.get("epoch")) and number(row.get("val_acc"))):
        return "no epoch or val_acc number"
    wrong = [k for k in ("train_acc", "train_loss", "val_loss") if row.get(k) is not None and not number(row[k])]
    wrong += ["seconds"] if "seconds" in row and not number(row["seconds"]) else []  # summed as they are
    return f"{wrong[0]} is not a number" if wrong else ""


def list_runs(root=None) -> list[Run]:
    """All runs, newest first."""
    return Run.list_in(root)


# ---------------------------------------------------------------- shipped models, as read-only runs

class ShippedRun(Run):
    """A shipped model's training history (`graphs/<name>/`), read like a run and never written."""

    shipped = True

    def __init__(self, name: str, graphs=None, models=None):
        folder = Path(graphs or shipped_graphs_dir()) / name
        super().__init__(folder, folder)
        self.name = name
        self.id = SHIPPED_PREFIX + name
        self.checkpoint = Path(models or model_dir()) / f"{name}.pt"
        self.card_path = self.checkpoint.with_name(f"{name}.card.json")

    best_path = property(lambda self: self.checkpoint)
    last_path = property(lambda self: self.dir / ".none")

    def status(self) -> dict:
        return {"state": "finished", "shipped": True}

    def state(self) -> str:
        return "finished"

    def info(self) -> dict:
        return {"title": self.name}

    @property
    def title(self) -> str:
        return self.name

    def summary(self) -> dict:
        """The test figures from its card (PublicTest selection, PrivateTest report), else its checkpoint's."""
        card = read_object(self.card_path, {})  # a damaged card (a list, null) reads as none
        if isinstance(card.get("test_none"), dict):
            test, val = card["test_none"], card.get("val_none")
            return {"best_val_acc": val.get("accuracy") if isinstance(val, dict) else None,
                    "test_acc": test.get("accuracy"),
                    "test_macro_f1": test.get("macro_f1"), "test": {**test, "classes": card.get("classes")},
                    "classes": card.get("classes")}
        rows = self.metrics()
        return {"best_val_acc": max((r["val_acc"] for r in rows), default=None)} if rows else {}

    def evaluations(self) -> list[dict]:
        return []

    def _read_only(self, *_, **__):
        raise RuntimeError(f"{self.name} is a shipped model: its history is read-only")

    set_status = save_evaluation = update_info = request_stop = append_metrics = rewrite_metrics = _read_only
    append_step = trim_steps = _read_only
    log = write_progress = _read_only

    def delete(self) -> None:
        raise RuntimeError(f"{self.name} is a shipped model (model/{self.name}.pt), not a run: it is not deleted here")


def list_shipped_runs(graphs=None, models=None) -> list[ShippedRun]:
    """Every shipped model whose training history is in graphs/<name>/ (config and metrics), by name."""
    base = Path(graphs or shipped_graphs_dir())
    if not base.is_dir():
        return []
    out = [ShippedRun(d.name, base, models) for d in sorted(base.iterdir())
           if d.is_dir() and (d / "config.json").is_file() and (d / "metrics.jsonl").is_file()
           and (Path(models or model_dir()) / f"{d.name}.pt").is_file()]
    return out


def open_run(run_id, root=None) -> Run:
    """A run by its id, or a shipped model's history by `model:<name>`."""
    text = str(run_id)
    if text.startswith(SHIPPED_PREFIX):
        name = check_run_id(text[len(SHIPPED_PREFIX):])
        run = ShippedRun(name)
        if not run.config_path.is_file():
            raise FileNotFoundError(f"no training history of the shipped model {name!r}")
        return run
    return Run.open(text, root)
