"""The training loop, readable in one screen (after nanoGPT): the config is plain data (core.config), the
data set lives in memory as uint8 tensors (on the GPU when there is one: no per-batch copy), each batch is
augmented whole on its device, and a step is core.train.step.train_step.

A run can be stopped (STOP file or SIGTERM) and resumed at the exact batch; a killed run resumes from its
last checkpoint with no epoch lost or repeated. Under torchrun each rank trains its shard of every epoch
(core.train.distributed) and rank 0 alone writes the run folder."""
from __future__ import annotations

import contextlib
import os
import signal
import time
import traceback

import torch

from ..config import TrainConfig
from ..data import default_data_path, load_dataset, pixel_stats
from ..calibration import calibration_report
from ..evaluate import evaluate_model, metrics_from_probs, predict_probs
from ..files import write_json
from ..models import count_parameters, create_model
from ..models.checkpoint import (CheckpointError, build_model, load_checkpoint, save_checkpoint,
                                 write_checkpoint_state)
from ..models.layout import channels_last_ok
from ..runs import Run
from . import distributed
from .device import resolve_device
from .distill import make_teacher
from .finetune import load_start_weights
from .optim import make_optimizer, make_scheduler
from .plots import save_confusion, save_curves
from .preflight import check_before_start
from .step import autocast_for, divergence, make_batch, train_step


class _StopFlag:
    """Set by SIGTERM/SIGINT or a STOP file; checked between batches."""

    def __init__(self):
        self.set = False

    def __call__(self, *_):
        self.set = True


def subsample(labels: torch.Tensor, limit: int, seed: int) -> torch.Tensor:
    """A seeded random subset of row indices (class proportions kept in expectation)."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(labels), generator=g)[:limit]
    return idx.sort().values


def train(config: TrainConfig | None = None, run: Run | None = None, resume: bool = False,
          progress: bool = True, on_epoch=None, dataset=None) -> Run:
    """Train a config in a run folder (a new one unless `run` is given). `on_epoch(row)` may return
    False to stop early (Optuna pruning). Returns the run; its status says how it ended. The run's lock
    is held throughout: a second process asking to train it gets RunBusy and changes nothing. Under
    torchrun, ranks other than 0 train their shards and leave the folder to rank 0."""
    if run is None:
        check_before_start(config, data=dataset is None)
    dev = resolve_device((run.config() if run else config).device)
    ctx = distributed.setup(dev.type)  # under torchrun: join the other ranks
    if run is None:
        run = distributed.on_rank0(lambda: Run.create(config, state="running"), ctx)  # one folder, all ranks
    cfg = run.config()
    if resume:
        distributed.check_world(run.last_path, ctx.world)  # before anything about the run changes
    stop = _StopFlag()
    old_handlers = {}
    try:  # signals only work in the main thread
        old_handlers = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    except ValueError:
        pass
    try:
        if not ctx.main:
            try:
                return _train(cfg, run, resume, progress, on_epoch, dataset, stop, dev, ctx)
            except Exception as e:
                distributed.record_lost_rank0(run, e, ctx)  # rank 0 says why itself, unless it is gone
                raise
        with run.hold():
            run.remove_orphaned_temp_files()  # of a process killed mid-save: no live one writes this run now
            run.set_status("running", processes=ctx.world)
            run.clear_stop()  # before the ranks first meet (DDP's broadcast): no rank sees an old STOP
            try:
                return _train(cfg, run, resume, progress, on_epoch, dataset, stop, dev, ctx)
            except Exception as e:
                with contextlib.suppress(OSError):  # a full disk may refuse the log: the status comes first
                    run.log("FAILED: " + "".join(traceback.format_exception(e)))
                run.set_status("failed", error=distributed.explain(e, ctx))
                raise
    finally:
        for s, h in old_handlers.items():
            signal.signal(s, h)


def _train(cfg: TrainConfig, run: Run, resume: bool, progress: bool, on_epoch, dataset, stop, dev, ctx) -> Run:
    if dev.type == "cuda" and ctx.active:
        dev = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(dev)
    main = ctx.main  # rank 0 writes the run folder; the others only train
    torch.set_num_threads(max(1, (cfg.threads or os.cpu_count() or 1) // ctx.world))
    torch.manual_seed(cfg.seed)
    data_path = cfg.data or default_data_path()
    if main:
        run.log(f"loading data from {data_path}")
    ds = dataset or load_dataset(data_path, image_size=cfg.image_size, task=cfg.task,
                                 val_fraction=cfg.val_fraction, seed=cfg.seed)
    train_x, train_y = ds.splits["train"].images, ds.splits["train"].labels
    if cfg.limit and cfg.limit < len(train_y):
        keep = subsample(train_y, cfg.limit, cfg.seed)
        train_x, train_y = train_x[keep], train_y[keep]
    mean, std = pixel_stats(train_x)
    val_x, val_y = ds.splits["val"].images, ds.splits["val"].labels
    if dev.type == "cuda":  # the whole data set on the GPU, once: batches are cut and augmented there
        train_x, train_y, val_x, val_y = (t.to(dev) for t in (train_x, train_y, val_x, val_y))
    n, bs = len(train_y), min(cfg.batch_size, len(train_y))
    steps = max(1, n // (bs * ctx.world))  # drop the ragged last batch: BatchNorm dislikes tiny batches

    torch.backends.cudnn.benchmark = dev.type == "cuda"  # fixed input size: let cuDNN pick its fastest kernels
    model = create_model(cfg.model, num_classes=len(ds.classes), **cfg.model_kwargs())
    fresh = not (resume and run.last_path.exists())  # a resumed run has its own weights
    started_from = load_start_weights(model, cfg, ds.classes) if cfg.init and fresh else ""
    model = model.to(dev)
    layout = torch.channels_last if cfg.channels_last and channels_last_ok(model, dev.type) else torch.contiguous_format
    model = model.to(memory_format=layout)
    net = distributed.wrap(model, ctx, dev)
    teacher = make_teacher(cfg.teacher, ds.classes, cfg.input_size, dev)
    opt = make_optimizer(cfg, model)
    sched = make_scheduler(cfg, opt, steps)
    amp = autocast_for(dev, cfg)
    meta = dict(classes=ds.classes, mean=mean, std=std, input_size=cfg.input_size, face_size=cfg.image_size)
    epoch, step, history, best_acc, sums = 0, 0, [], -1.0, None
    gen = torch.Generator(device=dev if dev.type == "cuda" else "cpu").manual_seed(cfg.seed + 7919 * ctx.rank)
    trace = distributed.Trace.from_env(ctx)  # tests only: what each rank trained on, and its final model

    if resume and run.last_path.exists():
        ck = load_checkpoint(run.last_path, map_location=dev)
        try:
            model.load_state_dict(ck["state_dict"])
            opt.load_state_dict(ck["optimizer"])
            sched.load_state_dict(ck["scheduler"])
            epoch, step, history, best_acc, sums = ck["epoch"], ck["step"], ck["history"], ck["best_acc"], ck["sums"]
        except (KeyError, TypeError, ValueError, RuntimeError) as e:  # a checkpoint, but not this run's last
            raise CheckpointError(f"{run.last_path} cannot resume this run ({type(e).__name__}: {str(e)[:200]}): "
                                  "delete it to train the run from the start") from None
        if ctx.main and ck.get("rng_device", "cpu") == gen.device.type:
            gen.set_state(ck["rng"].cpu())
        else:  # another rank, or another device: a fresh stream for the rest of the epoch
            gen.manual_seed(cfg.seed * 1_000_003 + epoch * 10_007 + step + 7919 * ctx.rank)
        if "torch_rng" in ck:  # dropout draws from the global generator
            torch.set_rng_state(ck["torch_rng"].cpu())
        if main:
            run.rewrite_metrics(history)  # the metrics file holds exactly the checkpoint's epochs
            run.log(f"resumed at epoch {epoch + 1}, batch {step}/{steps}")
    elif main and run.metrics():
        run.rewrite_metrics([])  # a fresh start of a run that had begun: no stale epochs

    if main:
        run.log(f"{cfg.model}: {count_parameters(model):,} parameters; {ds.sizes()} images; classes "
                f"{list(ds.classes)}; on {dev}" + (f" x {ctx.world} processes" if ctx.active else "")
                + f"; {cfg.input_size} px input" + (f"; {started_from}" if started_from else "")
                + ("; channels_last" if layout == torch.channels_last else "")
                + ("; bf16 autocast" if isinstance(amp, torch.autocast) else "")
                + (f"; distilling from {teacher.name} (weight {cfg.distill}, T {cfg.temperature})" if teacher else ""))

    def checkpoint(path, **extra):
        save_checkpoint(path, model, **meta, metrics=history[-1] if history else {}, config=cfg.__dict__,
                        epoch=epoch, step=step, history=history, best_acc=best_acc, sums=sums, **extra)

    def save_last():
        checkpoint(run.last_path, optimizer=opt.state_dict(), scheduler=sched.state_dict(), world=ctx.world,
                   rng=gen.get_state().cpu(), rng_device=gen.device.type, torch_rng=torch.get_rng_state())

    bar = _progress_bar(progress and main, cfg.epochs * steps, epoch * steps + step, run.id)
    while epoch < cfg.epochs:
        net.train()
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch))
        mine = distributed.shard(perm, ctx).to(train_x.device)
        sums = sums or {"loss": 0.0, "correct": 0.0, "seen": 0, "seconds": 0.0}
        t_last, seen_last = time.time(), 0
        while step < steps:
            t0 = time.time()
            idx = mine[step * bs:(step + 1) * bs]
            if trace is not None:
                trace.add(epoch, idx)
            x, y, y_b, lam = make_batch(train_x, train_y, idx, gen, cfg, [cfg.seed, epoch, step, ctx.rank], layout)
            logits, loss = train_step(net, opt, x, y, mean, std, cfg, teacher, y_b, lam, amp)
            if not isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                sched.step()
            step += 1
            loss_value = loss.item()
            diverged = divergence(loss_value, epoch + 1, step)
            if distributed.any_rank(bool(diverged), ctx):  # every rank ends at the same step
                if main:  # no checkpoint: its weights are NaN; the folder stays, with the reason
                    run.log("FAILED: " + (diverged or "the loss of another process became NaN or infinite"))
                    run.set_status("failed", error=diverged or "the loss became NaN or infinite: lower the "
                                   "learning rate", diverged=True)
                bar.close()
                return run
            pred = logits.argmax(1)
            sums["loss"] += loss_value * len(y)
            sums["correct"] += float(lam * (pred == y).sum().item() + (1 - lam) * (pred == y_b).sum().item())
            sums["seen"] += len(y)
            sums["seconds"] += time.time() - t0
            bar.update(1)
            if main and (time.time() - t_last > 1.0 or step == steps):
                ips = (sums["seen"] - seen_last) * ctx.world / max(time.time() - t_last, 1e-9)
                eta = (cfg.epochs * steps - (epoch * steps + step)) * bs * ctx.world / max(ips, 1e-9)
                run.write_progress(epoch=epoch + 1, epochs=cfg.epochs, step=step, steps=steps, images_per_s=ips,
                                   eta_s=eta, loss=sums["loss"] / sums["seen"], acc=sums["correct"] / sums["seen"])
                bar.set_postfix(loss=f"{sums['loss'] / sums['seen']:.3f}", acc=f"{sums['correct'] / sums['seen']:.3f}")
                t_last, seen_last = time.time(), sums["seen"]
            if distributed.any_rank(stop.set or run.stop_requested(), ctx):
                if main:
                    save_last()
                    run.log(f"stopped at epoch {epoch + 1}, batch {step}/{steps}; resume continues from here")
                    run.set_status("stopped")
                bar.close()
                return run

        distributed.sync_buffers(model, ctx)  # one model on every rank: rank 0's BatchNorm statistics
        seen, loss_sum, correct = distributed.sum_over_ranks([sums["seen"], sums["loss"], sums["correct"]], ctx)
        t_val = time.time()
        v = evaluate_model(model, val_x, val_y, ds.classes, mean, std, input_size=cfg.input_size) if main else {}
        v = distributed.share({"loss": v.get("loss"), "accuracy": v.get("accuracy")}, ctx)  # rank 0 evaluates
        row = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
               "val_loss": v["loss"], "val_acc": v["accuracy"], "lr": opt.param_groups[0]["lr"],
               "seconds": sums["seconds"] + time.time() - t_val,
               "images_per_s": seen / max(sums["seconds"], 1e-9), "time": time.time()}
        if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            sched.step(v["accuracy"])
        history.append(row)
        epoch, step, sums = epoch + 1, 0, None
        improved, best_acc = v["accuracy"] > best_acc, max(best_acc, v["accuracy"])
        if main:
            if improved:
                checkpoint(run.best_path)
            save_last()            # the checkpoint first, then the metrics line: a kill between them
            run.append_metrics(row)  # is mended on resume from the checkpoint's history
            run.log(f"epoch {row['epoch']}/{cfg.epochs} train_loss {row['train_loss']:.4f} train_acc "
                    f"{row['train_acc']:.4f} val_loss {row['val_loss']:.4f} val_acc {row['val_acc']:.4f} "
                    f"({row['images_per_s']:.0f} img/s)")
            _save_curves(run, history)
        if on_epoch is not None and on_epoch(row) is False:
            if main:
                run.log("ended early by the caller (pruned)")
                run.set_status("stopped", pruned=True)
            bar.close()
            return run
    bar.close()
    if trace is not None:
        trace.write(model)
    if main:
        _finish(run, ds, cfg)
    return run


def _finish(run: Run, ds, cfg: TrainConfig) -> None:
    """Test metrics of the best checkpoint, its temperature (fitted on the validation split, core.calibration),
    the confusion matrix image, and the summary."""
    state = load_checkpoint(run.best_path)
    model = build_model(state, run.best_path)
    t, size = ds.splits["test"], cfg.input_size
    probs = {s: predict_probs(model, ds.splits[s].images, state["mean"], state["std"], input_size=size).numpy()
             for s in ("val", "test")}
    res = {**metrics_from_probs(probs["test"], t.labels.numpy(), ds.classes), "tta": None}
    ten = evaluate_model(model, t.images, t.labels, ds.classes, state["mean"], state["std"], "tencrop", input_size=size)
    cal = calibration_report(probs["val"], ds.splits["val"].labels.numpy(), probs["test"], t.labels.numpy())
    calibration = {k: cal[k] for k in ("temperature", "ece", "ece_calibrated")}
    summary = {"best_val_acc": state["best_acc"], "best_epoch": state["epoch"], "test_acc": res["accuracy"],
               "test_tencrop_acc": ten["accuracy"], "test_macro_f1": res["macro_f1"], "test": res,
               "calibration": calibration,
               "params": count_parameters(model), "sizes": ds.sizes(), "classes": list(ds.classes)}
    write_json(run.dir / "summary.json", summary)
    state["temperature"] = cal["temperature"]  # applied by every predictor; accuracy unchanged
    state["metrics"] = {**state["metrics"], "val_acc": state["best_acc"], "test_acc": res["accuracy"],
                        "test_tencrop_acc": ten["accuracy"], "test_ece": cal["ece"],
                        "test_ece_calibrated": cal["ece_calibrated"]}
    write_checkpoint_state(run.best_path, state)
    try:
        save_confusion(res["confusion"], ds.classes, run.graphs_dir / "confusion.png",
                       title=f"{run.id}: test, acc {res['accuracy']:.3f}")
    except Exception as e:  # noqa: BLE001 - a plot must never fail a finished run
        run.log(f"could not draw the confusion matrix: {e}")
    run.log(f"finished: best val_acc {state['best_acc']:.4f} (epoch {state['epoch']}), test_acc {res['accuracy']:.4f} "
            f"(ten-crop {ten['accuracy']:.4f})")
    run.set_status("finished")


def _save_curves(run: Run, history) -> None:
    try:
        save_curves(history, run.graphs_dir, title=run.id)
    except Exception as e:  # noqa: BLE001 - nor a plot of the curves
        run.log(f"could not draw curves: {e}")


def _progress_bar(enabled: bool, total: int, initial: int, desc: str):
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc[-30:], unit="batch", disable=not enabled, dynamic_ncols=True)
