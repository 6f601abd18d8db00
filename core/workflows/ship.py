"""Shipping a run as a model: `model/<name>.pt` (weights and metadata, no training state) and
`graphs/<name>/` (its config, per-epoch metrics and curves), so a shipped model stays a run you can read.

    python -m core ship <run-id> --as my-model [--force]

A name in use is refused unless `force`, also when two ships to one name race (the name is created exclusively);
with `force` the checkpoint, its card and its graphs are replaced together, or, if anything fails on the way,
none of them.
"""
from __future__ import annotations

import os
import platform
import shutil
import tempfile
from pathlib import Path

from ..models.checkpoint import checkpoint_meta, load_checkpoint, write_checkpoint
from ..runs import Run, slug
from ..settings import model_dir as default_model_dir
from ..settings import shipped_graphs_dir


def shipped_files(name: str, model_dir=None, graphs_dir=None) -> dict[str, Path]:
    """The three things a shipped model is made of."""
    model_dir = Path(model_dir or default_model_dir())
    return {"checkpoint": model_dir / f"{name}.pt", "card": model_dir / f"{name}.card.json",
            "graphs": Path(graphs_dir or shipped_graphs_dir()) / name}


def ship(run: Run, name: str, model_dir=None, graphs_dir=None, force: bool = False) -> Path:
    """Copy a run's best checkpoint and its curves under a stable name. FileExistsError if the name is taken
    and not `force`; a stale card of a replaced model is removed with it (measure the new one with `card`)."""
    name = slug(name)
    files = shipped_files(name, model_dir, graphs_dir)
    taken = [str(p) for p in files.values() if p.exists()]
    if taken and not force:
        raise FileExistsError(f"a model named {name!r} exists already ({', '.join(taken)}): choose another name, "
                              "or --force to replace it")
    state = load_checkpoint(run.best_path)
    rows = run.metrics()
    meta = checkpoint_meta(state, run.best_path).replace(run_id=run.id, training={
        "seconds": sum(r.get("seconds", 0) for r in rows), "epochs": len(rows),
        "hardware": run.status().get("hardware") or f"{platform.machine()} CPU, {os.cpu_count()} cores"})
    files["checkpoint"].parent.mkdir(parents=True, exist_ok=True)
    files["graphs"].parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".ship-{name}-", dir=files["checkpoint"].parent))
    try:
        new_ckpt = write_checkpoint(stage / files["checkpoint"].name, meta, state["state_dict"])  # no training state
        new_graphs = stage / "graphs"
        new_graphs.mkdir()
        for png in run.graphs_dir.glob("*.png"):
            shutil.copy2(png, new_graphs / png.name)
        shutil.copy2(run.metrics_path, new_graphs / "metrics.jsonl")
        shutil.copy2(run.config_path, new_graphs / "config.json")
        if force:
            _swap_in({files["checkpoint"]: new_ckpt, files["graphs"]: new_graphs, files["card"]: None}, stage)
        else:
            _place_new(files, new_ckpt, new_graphs, name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return files["checkpoint"]


def _place_new(files: dict[Path, Path], new_ckpt: Path, new_graphs: Path, name: str) -> None:
    """Without force: the name is taken by creating the checkpoint exclusively (a hard link fails where the name
    exists), so of two ships to one name at the same moment one wins and the other is refused: a check followed
    by a write would let both through."""
    taken = FileExistsError(f"a model named {name!r} was shipped meanwhile: choose another name, or --force to "
                            "replace it")
    if files["graphs"].exists():
        raise taken
    try:
        os.link(new_ckpt, files["checkpoint"])
    except FileExistsError:
        raise taken from None
    except OSError:  # a file system without hard links: create the name exclusively, then fill it
        try:
            os.close(os.open(files["checkpoint"], os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            raise taken from None
        os.replace(new_ckpt, files["checkpoint"])
    try:
        shutil.move(str(new_graphs), files["graphs"])
    except BaseException:
        files["checkpoint"].unlink(missing_ok=True)
        raise


def _swap_in(moves: dict[Path, Path | None], stage: Path) -> None:
    """Put each new thing in place of the old (None: the old one goes), all or nothing: the old ones are
    moved aside first and moved back if a later step fails."""
    aside: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        for i, target in enumerate(moves):
            if target.exists():
                backup = stage / f"old-{i}"
                shutil.move(str(target), backup)  # graphs may live on another filesystem than the models
                aside.append((target, backup))
        for target, new in moves.items():
            if new is not None:
                shutil.move(str(new), target)
                placed.append(target)
    except BaseException:
        for target in placed:
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
        for target, backup in aside:
            shutil.move(str(backup), target)
        raise
