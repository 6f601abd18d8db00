"""The training loop. A run can be stopped (STOP file or SIGTERM) and resumed at the exact batch;
a killed run resumes from its last checkpoint with no epoch lost or repeated."""
from __future__ import annotations

import os
import signal
import time
import traceback

import torch
import torch.nn.functional as F

from ..config import TrainConfig
from ..data import default_data_path, load_dataset, pixel_stats
from ..data.augment import augment
from ..evaluate import evaluate_model
from ..files import write_json
from ..models import count_parameters, create_model
from ..models.checkpoint import build_model, load_checkpoint, save_checkpoint, write_checkpoint_state
from ..runs import Run
from .device import resolve_device
from .distill import Teacher, distill_loss
from .optim import make_optimizer, make_scheduler
from .plots import save_confusion, save_curves
from .preflight import check_before_start


class _StopFlag:
    """Set by SIGTERM/SIGINT or a STOP file; checked between batches."""

    def __init__(self):
        self.set = False

    def __call__(self, *_):
        self.set = True


def train_step(model, opt, x01, y, mean: float, std: float, cfg: TrainConfig, teacher=None):
    """One optimiser step on a batch of [0, 1] images; the benches time this same step. Returns (logits, loss)."""
    logits = model((x01 - mean) / std)
    loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
    if teacher is not None:  # the teacher's soft answers on the same augmented batch
        loss = distill_loss(loss, logits, teacher(x01), cfg.distill, cfg.temperature)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return logits, loss


def subsample(labels: torch.Tensor, limit: int, seed: int) -> torch.Tensor:
    """A seeded random subset of row indices (class proportions kept in expectation)."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(labels), generator=g)[:limit]
    return idx.sort().values


def train(config: TrainConfig | None = None, run: Run | None = None, resume: bool = False,
          progress: bool = True, on_epoch=None, dataset=None) -> Run:
    """Train a config in a run folder (a new one unless `run` is given). `on_epoch(row)` may return
    False to stop early (Optuna pruning). Returns the run; its status says how it ended. The run's lock
    is held throughout: a second process asking to train it gets RunBusy and changes nothing."""
    if run is None:
        check_before_start(config, data=dataset is None)
        run = Run.create(config)
    with run.hold():
        cfg = run.config()
        stop = _StopFlag()
        old_handlers = {}
        try:  # signals only work in the main thread
            old_handlers = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
        except ValueError:
            pass
        run.set_status("running")
        run.clear_stop()
        try:
            return _train(cfg, run, resume, progress, on_epoch, dataset, stop)
        except Exception as e:
            run.log("FAILED: " + "".join(traceback.format_exception(e)))
            run.set_status("failed", error=f"{type(e).__name__}: {e}")
            raise
        finally:
            for s, h in old_handlers.items():
                signal.signal(s, h)


def _train(cfg: TrainConfig, run: Run, resume: bool, progress: bool, on_epoch, dataset, stop) -> Run:
    torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    torch.manual_seed(cfg.seed)
    data_path = cfg.data or default_data_path()
    run.log(f"loading data from {data_path}")
    ds = dataset or load_dataset(data_path, image_size=cfg.image_size, task=cfg.task,
                                 val_fraction=cfg.val_fraction, seed=cfg.seed)
    train_x, train_y = ds.splits["train"].images, ds.splits["train"].labels
    if cfg.limit and cfg.limit < len(train_y):
        keep = subsample(train_y, cfg.limit, cfg.seed)
        train_x, train_y = train_x[keep], train_y[keep]
    val = ds.splits["val"]
    mean, std = pixel_stats(train_x)
    n, bs = len(train_y), min(cfg.batch_size, len(train_y))
    steps = max(1, n // bs)  # drop the ragged last batch: BatchNorm dislikes tiny batches

    dev = resolve_device(cfg.device)
    torch.backends.cudnn.benchmark = dev.type == "cuda"  # fixed input size: let cuDNN pick its fastest kernels
    model = create_model(cfg.model, num_classes=len(ds.classes), **cfg.model_kwargs()).to(dev)
    teacher = Teacher(cfg.teacher, ds.classes, cfg.image_size, dev) if cfg.teacher else None
    opt = make_optimizer(cfg, model)
    sched = make_scheduler(cfg, opt, steps)
    meta = dict(classes=ds.classes, mean=mean, std=std, input_size=cfg.image_size)
    epoch, step, history, best_acc, sums = 0, 0, [], -1.0, None
    gen = torch.Generator().manual_seed(cfg.seed)

    if resume and run.last_path.exists():
        ck = load_checkpoint(run.last_path)
        model.load_state_dict(ck["state_dict"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        gen.set_state(ck["rng"])
        if "torch_rng" in ck:  # dropout draws from the global generator
            torch.set_rng_state(ck["torch_rng"])
        epoch, step, history, best_acc, sums = ck["epoch"], ck["step"], ck["history"], ck["best_acc"], ck["sums"]
        run.rewrite_metrics(history)  # the metrics file holds exactly the checkpoint's epochs
        run.log(f"resumed at epoch {epoch + 1}, batch {step}/{steps}")
    elif run.metrics():
        run.rewrite_metrics([])  # a fresh start of a run that had begun: no stale epochs

    run.log(f"{cfg.model}: {count_parameters(model):,} parameters; {ds.sizes()} images; classes {list(ds.classes)}; "
            f"on {dev}" + (f"; distilling from {teacher.name} (weight {cfg.distill}, T {cfg.temperature})"
                           if teacher else ""))

    def checkpoint(path, **extra):
        save_checkpoint(path, model, **meta, metrics=history[-1] if history else {}, config=cfg.__dict__,
                        epoch=epoch, step=step, history=history, best_acc=best_acc, sums=sums, **extra)

    def save_last():
        checkpoint(run.last_path, optimizer=opt.state_dict(), scheduler=sched.state_dict(), rng=gen.get_state(),
                   torch_rng=torch.get_rng_state())

    bar = _progress_bar(progress, cfg.epochs * steps, epoch * steps + step, run.id)
    while epoch < cfg.epochs:
        model.train()
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch))
        sums = sums or {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        t_last, seen_last = time.time(), 0
        while step < steps:
            t0 = time.time()
            idx = perm[step * bs:(step + 1) * bs]
            x = augment(train_x[idx].float() / 255.0, gen, flip=cfg.flip, shift=cfg.shift, rotate=cfg.rotate,
                        scale=cfg.scale, erase=cfg.erase)
            x, y = x.to(dev, non_blocking=True), train_y[idx].to(dev, non_blocking=True)  # augmented on the CPU
            logits, loss = train_step(model, opt, x, y, mean, std, cfg, teacher)
            if not isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                sched.step()
            step += 1
            sums["loss"] += loss.item() * len(y)
            sums["correct"] += int((logits.argmax(1) == y).sum())
            sums["seen"] += len(y)
            sums["seconds"] += time.time() - t0
            bar.update(1)
            if time.time() - t_last > 1.0 or step == steps:
                ips = (sums["seen"] - seen_last) / max(time.time() - t_last, 1e-9)
                done = epoch * steps + step
                eta = (cfg.epochs * steps - done) * bs / max(ips, 1e-9)
                run.write_progress(epoch=epoch + 1, epochs=cfg.epochs, step=step, steps=steps, images_per_s=ips,
                                   eta_s=eta, loss=sums["loss"] / sums["seen"], acc=sums["correct"] / sums["seen"])
                bar.set_postfix(loss=f"{sums['loss'] / sums['seen']:.3f}", acc=f"{sums['correct'] / sums['seen']:.3f}")
                t_last, seen_last = time.time(), sums["seen"]
            if stop.set or run.stop_requested():
                save_last()
                run.log(f"stopped at epoch {epoch + 1}, batch {step}/{steps}; resume continues from here")
                run.set_status("stopped")
                bar.close()
                return run

        t_val = time.time()
        v = evaluate_model(model, val.images, val.labels, ds.classes, mean, std)
        row = {"epoch": epoch + 1, "train_loss": sums["loss"] / sums["seen"], "train_acc": sums["correct"] / sums["seen"],
               "val_loss": v["loss"], "val_acc": v["accuracy"], "lr": opt.param_groups[0]["lr"],
               "seconds": sums["seconds"] + time.time() - t_val, "images_per_s": sums["seen"] / max(sums["seconds"], 1e-9),
               "time": time.time()}
        if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            sched.step(v["accuracy"])
        history.append(row)
        epoch, step, sums = epoch + 1, 0, None
        if v["accuracy"] > best_acc:
            best_acc = v["accuracy"]
            checkpoint(run.best_path)
        save_last()            # the checkpoint first, then the metrics line: a kill between them
        run.append_metrics(row)  # is mended on resume from the checkpoint's history
        run.log(f"epoch {row['epoch']}/{cfg.epochs} train_loss {row['train_loss']:.4f} train_acc {row['train_acc']:.4f} "
                f"val_loss {row['val_loss']:.4f} val_acc {row['val_acc']:.4f} ({row['images_per_s']:.0f} img/s)")
        _save_curves(run, history)
        if on_epoch is not None and on_epoch(row) is False:
            run.log("ended early by the caller (pruned)")
            run.set_status("stopped", pruned=True)
            bar.close()
            return run
    bar.close()
    _finish(run, ds, cfg)
    return run


def _finish(run: Run, ds, cfg: TrainConfig) -> None:
    """Test metrics of the best checkpoint, the confusion matrix image, and the summary."""
    state = load_checkpoint(run.best_path)
    model = build_model(state, run.best_path)
    t = ds.splits["test"]
    res = evaluate_model(model, t.images, t.labels, ds.classes, state["mean"], state["std"])
    summary = {"best_val_acc": state["best_acc"], "best_epoch": state["epoch"], "test_acc": res["accuracy"],
               "test_macro_f1": res["macro_f1"], "test": res, "params": count_parameters(model),
               "sizes": ds.sizes(), "classes": list(ds.classes)}
    write_json(run.dir / "summary.json", summary)
    state["metrics"] = {**state["metrics"], "val_acc": state["best_acc"], "test_acc": res["accuracy"]}
    write_checkpoint_state(run.best_path, state)
    try:
        save_confusion(res["confusion"], ds.classes, run.graphs_dir / "confusion.png",
                       title=f"{run.id}: test, acc {res['accuracy']:.3f}")
    except Exception as e:  # a plot must never fail a finished run
        run.log(f"could not draw the confusion matrix: {e}")
    run.log(f"finished: best val_acc {state['best_acc']:.4f} (epoch {state['epoch']}), test_acc {res['accuracy']:.4f}")
    run.set_status("finished")


def _save_curves(run: Run, history) -> None:
    try:
        save_curves(history, run.graphs_dir, title=run.id)
    except Exception as e:
        run.log(f"could not draw curves: {e}")


def _progress_bar(enabled: bool, total: int, initial: int, desc: str):
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc[-30:], unit="batch", disable=not enabled, dynamic_ncols=True)
