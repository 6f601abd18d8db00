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
from dataclasses import dataclass, field

import torch

from ..config import TrainConfig
from ..data import default_data_path, pixel_stats, with_grey
from ..calibration import calibration_report
from ..evaluate import evaluate_model, metrics_from_probs, predict_plain_and_tta
from ..files import write_json
from ..models import count_parameters, create_model
from ..models.checkpoint import (CheckpointError, build_model, checkpoint_meta, load_checkpoint, save_checkpoint,
                                 update_checkpoint)
from ..models.meta import CheckpointMeta
from ..models.layout import channels_last_ok
from ..runs import Run
from . import distributed
from .data import load_for
from .device import resolve_device
from .distill import make_teacher
from .finetune import load_start_weights
from .optim import make_optimizer, make_scheduler
from .plots import save_confusion, save_curves
from .preflight import check_before_start
from .step import autocast_for, divergence, epoch_divergence, hard_labels, make_batch, train_step


STEP_POINTS = 8  # points of the live curves per epoch: the running training loss and accuracy (steps.jsonl)


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


@dataclass
class TrainState:
    """Where a run is: what the loop advances, and what `last.pt` holds beside the weights, optimiser and schedule
    (`--resume` restores it). `sums` are the running totals of the epoch under way (None between epochs)."""
    epoch: int = 0
    step: int = 0
    history: list = field(default_factory=list)
    best_acc: float = -1.0
    sums: dict | None = None

    def as_checkpoint(self) -> dict:
        return dict(epoch=self.epoch, step=self.step, history=self.history, best_acc=self.best_acc, sums=self.sums)

    @classmethod
    def from_checkpoint(cls, ck: dict) -> "TrainState":
        return cls(ck["epoch"], ck["step"], ck["history"], ck["best_acc"], ck["sums"])


def _train(cfg: TrainConfig, run: Run, resume: bool, progress: bool, on_epoch, dataset, stop, dev, ctx) -> Run:
    t = _Training(cfg, run, dataset, dev, ctx)
    t.restore(resume)
    t.log_start()
    t.bar = _progress_bar(progress and ctx.main, cfg.epochs * t.steps, t.state.epoch * t.steps + t.state.step, run.id)
    try:
        while t.state.epoch < cfg.epochs:
            if not t.run_epoch(stop) or not t.end_epoch(on_epoch):
                return run  # diverged, stopped or pruned: said in the run's status
    finally:
        t.bar.close()
    if t.trace is not None:
        t.trace.write(t.model)
    if ctx.main:
        _FinalTest(run, t.ds, cfg, stop, progress).finish()
    return run


class _Training:
    """One process's part of a run: its data, model, optimiser and TrainState, and the three steps of the loop
    (restore, an epoch's batches, the end of an epoch). Rank 0 (`main`) alone writes the run folder."""

    def __init__(self, cfg: TrainConfig, run: Run, dataset, dev, ctx):
        if dev.type == "cuda" and ctx.active:
            dev = torch.device("cuda", ctx.local_rank)
            torch.cuda.set_device(dev)
        self.cfg, self.run, self.dev, self.ctx, self.main = cfg, run, dev, ctx, ctx.main
        torch.set_num_threads(max(1, (cfg.threads or os.cpu_count() or 1) // ctx.world))
        torch.manual_seed(cfg.seed)
        self._load_data(dataset)
        self._build_model()
        self.state = TrainState()
        self.gen = torch.Generator(device=dev if dev.type == "cuda" else "cpu").manual_seed(cfg.seed + 7919 * ctx.rank)
        self.trace = None  # set by a test (harness/ddp_trace.py): told each batch's indices and the final model
        self.bar = None

    def _load_data(self, dataset) -> None:
        cfg, dev = self.cfg, self.dev
        data_path = cfg.data or default_data_path()
        if self.main:
            self.run.log(f"loading data from {data_path}")
        self.ds = ds = with_grey(dataset or load_for(cfg, data_path), cfg.grey)  # every face as the model sees it
        train = ds.splits["train"]
        if cfg.limit and cfg.limit < len(train):
            train = train.subset(subsample(train.labels, cfg.limit, cfg.seed))
        train_x, train_y, train_t = train.images, train.labels, train.targets
        self.mean, self.std = pixel_stats(train_x)
        val_x, val_y = ds.splits["val"].images, ds.splits["val"].labels
        if dev.type == "cuda":  # the whole data set on the GPU, once: batches are cut and augmented there
            train_x, train_y, val_x, val_y = (t.to(dev) for t in (train_x, train_y, val_x, val_y))
            train_t = None if train_t is None else train_t.to(dev)
        self.train_x, self.train_y, self.train_t, self.val_x, self.val_y = train_x, train_y, train_t, val_x, val_y
        self.n, self.bs = len(train_y), min(cfg.batch_size, len(train_y))
        self.steps = max(1, self.n // (self.bs * self.ctx.world))  # no ragged last batch: BatchNorm dislikes tiny ones

    def _build_model(self) -> None:
        cfg, dev, ds = self.cfg, self.dev, self.ds
        torch.backends.cudnn.benchmark = dev.type == "cuda"  # fixed input size: let cuDNN pick its fastest kernels
        model = create_model(cfg.model, num_classes=len(ds.classes), **cfg.model_kwargs())
        self.started_from = ""
        self.layout = torch.channels_last if cfg.channels_last and channels_last_ok(model, dev.type) \
            else torch.contiguous_format
        self.model = model
        self.teacher = make_teacher(cfg.teacher, ds.classes, cfg.input_size, dev, grey=cfg.grey)
        self.meta = CheckpointMeta.for_model(model, classes=ds.classes, mean=self.mean, std=self.std,
                                             input_size=cfg.input_size, face_size=cfg.image_size, config=cfg.__dict__,
                                             grey=cfg.grey, labels=ds.labels or None)

    def _place_model(self) -> None:
        """On the device, in its layout, wrapped for DDP; then its optimiser and schedule (after any start weights)."""
        self.model = self.model.to(self.dev).to(memory_format=self.layout)
        self.net = distributed.wrap(self.model, self.ctx, self.dev)
        self.opt = make_optimizer(self.cfg, self.model)
        self.sched = make_scheduler(self.cfg, self.opt, self.steps)
        self.amp = autocast_for(self.dev, self.cfg)

    def restore(self, resume: bool) -> None:
        """A resumed run takes its weights, optimiser, schedule, TrainState and random streams from last.pt; a
        fresh one its start weights (`init`), and forgets any epochs an earlier start had written."""
        cfg, run, ctx = self.cfg, self.run, self.ctx
        resuming = resume and run.last_path.exists()
        if cfg.init and not resuming:
            self.started_from = load_start_weights(self.model, cfg, self.ds.classes)
        self._place_model()
        if not resuming:
            if self.main and run.metrics():
                run.rewrite_metrics([])  # a fresh start of a run that had begun: no stale epochs
            if self.main:
                run.trim_steps(0)  # nor stale points within them
            return
        ck = load_checkpoint(run.last_path, map_location=self.dev)
        try:
            self.model.load_state_dict(ck["state_dict"])
            self.opt.load_state_dict(ck["optimizer"])
            self.sched.load_state_dict(ck["scheduler"])
            self.state = TrainState.from_checkpoint(ck)
        except (KeyError, TypeError, ValueError, RuntimeError) as e:  # a checkpoint, but not this run's last
            raise CheckpointError(f"{run.last_path} cannot resume this run ({type(e).__name__}: {str(e)[:200]}): "
                                  "delete it to train the run from the start") from None
        if ctx.main and ck.get("rng_device", "cpu") == self.gen.device.type:
            self.gen.set_state(ck["rng"].cpu())
        else:  # another rank, or another device: a fresh stream for the rest of the epoch
            self.gen.manual_seed(cfg.seed * 1_000_003 + self.state.epoch * 10_007 + self.state.step + 7919 * ctx.rank)
        if "torch_rng" in ck:  # dropout draws from the global generator
            torch.set_rng_state(ck["torch_rng"].cpu())
        if self.main:
            run.rewrite_metrics(self.state.history)  # the metrics file holds exactly the checkpoint's epochs
            run.trim_steps(self.state.epoch * self.steps + self.state.step)  # and steps.jsonl its batches
            run.log(f"resumed at epoch {self.state.epoch + 1}, batch {self.state.step}/{self.steps}")

    def log_start(self) -> None:
        if not self.main:
            return
        cfg, ctx = self.cfg, self.ctx
        self.run.log(f"{cfg.model}: {count_parameters(self.model):,} parameters; {self.ds.sizes()} images; classes "
                     f"{list(self.ds.classes)}; on {self.dev}" + (f" x {ctx.world} processes" if ctx.active else "")
                     + f"; {cfg.input_size} px input" + (f"; {self.started_from}" if self.started_from else "")
                     + ("; channels_last" if self.layout == torch.channels_last else "")
                     + ("; bf16 autocast" if isinstance(self.amp, torch.autocast) else "")
                     + (f"; distilling from {self.teacher.name} (weight {cfg.distill}, T {cfg.temperature})"
                        if self.teacher else ""))

    def checkpoint(self, path, **extra) -> None:
        h = self.state.history
        save_checkpoint(path, self.model, self.meta.replace(metrics=h[-1] if h else {}), **self.state.as_checkpoint(),
                        **extra)

    def save_last(self) -> None:
        self.checkpoint(self.run.last_path, optimizer=self.opt.state_dict(), scheduler=self.sched.state_dict(),
                        world=self.ctx.world, rng=self.gen.get_state().cpu(), rng_device=self.gen.device.type,
                        torch_rng=torch.get_rng_state())

    def run_epoch(self, stop) -> bool:
        """The epoch's remaining batches; False if the run ended in it (the loss diverged, or a stop was asked:
        the status says which, and a stopped run's last.pt resumes at the next batch)."""
        cfg, ctx, st, run = self.cfg, self.ctx, self.state, self.run
        self.net.train()
        perm = torch.randperm(self.n, generator=torch.Generator().manual_seed(cfg.seed * 100_003 + st.epoch))
        mine = distributed.shard(perm, ctx).to(self.train_x.device)
        st.sums = st.sums or {"loss": 0.0, "correct": 0.0, "seen": 0, "seconds": 0.0}
        self._shown = (time.time(), 0)
        while st.step < self.steps:
            t0 = time.time()
            idx = mine[st.step * self.bs:(st.step + 1) * self.bs]
            if self.trace is not None:
                self.trace.add(st.epoch, idx)
            x, y, y_b, lam = make_batch(self.train_x, self.train_y, idx, self.gen, cfg,
                                        [cfg.seed, st.epoch, st.step, ctx.rank], self.layout, self.train_t)
            logits, loss = train_step(self.net, self.opt, x, y, self.mean, self.std, cfg, self.teacher, y_b, lam,
                                      self.amp)
            if not isinstance(self.sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.sched.step()
            st.step += 1
            loss_value = loss.item()
            diverged = divergence(loss_value, st.epoch + 1, st.step)
            if distributed.any_rank(bool(diverged), ctx):  # every rank ends at the same step
                if self.main:  # no checkpoint: its weights are NaN; the folder stays, with the reason
                    run.log("FAILED: " + (diverged or "the loss of another process became NaN or infinite"))
                    run.set_status("failed", error=diverged or "the loss became NaN or infinite: lower the "
                                   "learning rate", diverged=True)
                return False
            pred = logits.argmax(1)
            st.sums["loss"] += loss_value * len(y)
            st.sums["correct"] += float(lam * (pred == hard_labels(y)).sum().item()
                                        + (1 - lam) * (pred == hard_labels(y_b)).sum().item())
            st.sums["seen"] += len(y)
            st.sums["seconds"] += time.time() - t0
            self.bar.update(1)
            self._show_progress()
            if distributed.any_rank(stop.set or run.stop_requested(), ctx):
                if self.main:
                    self.save_last()
                    run.log(f"stopped at epoch {st.epoch + 1}, batch {st.step}/{self.steps}; resume continues from here")
                    run.set_status("stopped")
                return False
        return True

    def _show_progress(self) -> None:
        """progress.json and the bar, about once a second and at the epoch's last batch; a point of the live
        curves (steps.jsonl), STEP_POINTS times an epoch (rank 0)."""
        st, (t_last, seen_last) = self.state, self._shown
        if self.main and (st.step % max(1, self.steps // STEP_POINTS) == 0 or st.step == self.steps):
            self.run.append_step({"epoch": round(st.epoch + st.step / self.steps, 4),
                                  "step": st.epoch * self.steps + st.step, "train_loss": st.sums["loss"] / st.sums["seen"],
                                  "train_acc": st.sums["correct"] / st.sums["seen"], "time": time.time()})
        if not self.main or not (time.time() - t_last > 1.0 or st.step == self.steps):
            return
        cfg, world, sums = self.cfg, self.ctx.world, st.sums
        ips = (sums["seen"] - seen_last) * world / max(time.time() - t_last, 1e-9)
        eta = (cfg.epochs * self.steps - (st.epoch * self.steps + st.step)) * self.bs * world / max(ips, 1e-9)
        self.run.write_progress(epoch=st.epoch + 1, epochs=cfg.epochs, step=st.step, steps=self.steps,
                                images_per_s=ips, eta_s=eta, loss=sums["loss"] / sums["seen"],
                                acc=sums["correct"] / sums["seen"])
        self.bar.set_postfix(loss=f"{sums['loss'] / sums['seen']:.3f}", acc=f"{sums['correct'] / sums['seen']:.3f}")
        self._shown = (time.time(), sums["seen"])

    def end_epoch(self, on_epoch) -> bool:
        """Validation, the epoch's metrics line, best.pt and last.pt (the checkpoint first, then the metrics line:
        a kill between them is mended on resume from the checkpoint's history), the curves; False if the caller
        ends the run here (Optuna's pruning)."""
        cfg, ctx, st, run = self.cfg, self.ctx, self.state, self.run
        distributed.sync_buffers(self.model, ctx)  # one model on every rank: rank 0's BatchNorm statistics
        seen, loss_sum, correct = distributed.sum_over_ranks([st.sums["seen"], st.sums["loss"], st.sums["correct"]],
                                                             ctx)
        t_val = time.time()
        v = evaluate_model(self.model, self.val_x, self.val_y, self.ds.classes, self.mean, self.std,
                           input_size=cfg.input_size) if self.main else {}
        v = distributed.share({"loss": v.get("loss"), "accuracy": v.get("accuracy")}, ctx)  # rank 0 evaluates
        row = {"epoch": st.epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
               "val_loss": v["loss"], "val_acc": v["accuracy"], "lr": self.opt.param_groups[0]["lr"],
               "seconds": st.sums["seconds"] + time.time() - t_val,
               "images_per_s": seen / max(st.sums["seconds"], 1e-9), "time": time.time()}
        diverged = epoch_divergence(v["loss"], self.model, st.epoch + 1) if self.main else ""
        if distributed.any_rank(bool(diverged), ctx):  # as a NaN training loss: failed, no checkpoint of NaN weights
            if self.main:
                run.log("FAILED: " + diverged)
                run.set_status("failed", error=diverged, diverged=True)
            return False
        if isinstance(self.sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.sched.step(v["accuracy"])
        st.history.append(row)
        st.epoch, st.step, st.sums = st.epoch + 1, 0, None
        improved, st.best_acc = v["accuracy"] > st.best_acc, max(st.best_acc, v["accuracy"])
        if self.main:
            if improved:
                self.checkpoint(run.best_path)
            self.save_last()
            run.append_metrics(row)
            run.log(f"epoch {row['epoch']}/{cfg.epochs} train_loss {row['train_loss']:.4f} train_acc "
                    f"{row['train_acc']:.4f} val_loss {row['val_loss']:.4f} val_acc {row['val_acc']:.4f} "
                    f"({row['images_per_s']:.0f} img/s)")
            _save_curves(run, st.history)
        if on_epoch is not None and on_epoch(row) is False:
            if self.main:
                run.log("ended early by the caller (pruned)")
                run.set_status("stopped", pruned=True)
            return False
        return True


class _FinalTest:
    """After the last epoch: the best checkpoint on the test split (plain, and on ten crops where the config asks),
    its temperature fitted on the validation split (core.calibration), the confusion matrix and the summary.
    Each view goes through the model once, in batches, on the training's threads; progress.json (phase "test")
    and a bar say how far it is, and a stop asked meanwhile ends the run stopped (resume tests again)."""

    def __init__(self, run: Run, ds, cfg: TrainConfig, stop, progress: bool):
        self.run, self.ds, self.cfg, self.stop = run, ds, cfg, stop
        self.views = 1 + (_tencrop_passes(cfg) if cfg.tencrop_test else 0)
        n_val, n_test = len(ds.splits["val"].labels), len(ds.splits["test"].labels)
        self.total, self.done = n_val + n_test * self.views, 0
        self.bar = _progress_bar(progress, self.total, 0, "final test", unit="face")

    def finish(self) -> None:
        torch.set_num_threads(max(1, self.cfg.threads or os.cpu_count() or 1))  # every core: no other rank now
        self.run.log(f"testing the best weights: {self.total:,} face passes ("
                     + ("plain and ten crops" if self.cfg.tencrop_test else "plain; no ten-crop test") + ")")
        try:
            state, probs, ten = self._predict()
        except _Stopped:
            self.run.log("stopped during the final test; resume tests the best weights again")
            self.run.set_status("stopped")
            return
        finally:
            self.bar.close()
        _summarise(self.run, self.ds, state, probs, ten, self.params)

    def _predict(self):
        state = load_checkpoint(self.run.best_path)
        meta, model = checkpoint_meta(state, self.run.best_path), build_model(state, self.run.best_path)
        self.params = count_parameters(model)
        size, splits = self.cfg.input_size, self.ds.splits
        val, _ = predict_plain_and_tta(model, splits["val"].images, meta.mean, meta.std, None,
                                       progress=self._counter("validation", 0, 1), input_size=size)
        n_val = len(splits["val"].labels)
        test, ten = predict_plain_and_tta(model, splits["test"].images, meta.mean, meta.std,
                                          "tencrop" if self.cfg.tencrop_test else None,
                                          progress=self._counter("test", n_val, self.views), input_size=size)
        return state, {"val": val.numpy(), "test": test.numpy()}, None if ten is None else ten.numpy()

    def _counter(self, split: str, before: int, views: int):
        def progress(done: int, total: int) -> None:
            now = before + done * views
            self.bar.update(now - self.done)
            self.done = now
            self.run.write_progress(phase="test", split=split, done=now, total=self.total, views=self.views,
                                    epoch=self.cfg.epochs, epochs=self.cfg.epochs)
            if self.stop.set or self.run.stop_requested():
                raise _Stopped
        return progress


class _Stopped(Exception):
    """A stop asked during the final test."""


def _tencrop_passes(cfg: TrainConfig) -> int:
    """Passes over the test split the ten-crop test adds: ten, or nine where the plain view is one of them (a
    crop-trained model's centre crop)."""
    return 9 if cfg.input_size < cfg.image_size else 10


def _summarise(run: Run, ds, state: dict, probs: dict, ten, params: int) -> None:
    """summary.json, the best checkpoint's test figures and temperature, the confusion matrix; the run finished."""
    t = ds.splits["test"]
    res = {**metrics_from_probs(probs["test"], t.labels.numpy(), ds.classes), "tta": None}
    ten_acc = None if ten is None else metrics_from_probs(ten, t.labels.numpy(), ds.classes)["accuracy"]
    cal = calibration_report(probs["val"], ds.splits["val"].labels.numpy(), probs["test"], t.labels.numpy())
    calibration = {k: cal[k] for k in ("temperature", "ece", "ece_calibrated", "fit_faces", "warning")}
    if cal["warning"]:  # a temperature from a handful of faces is still stored, but not without a word
        run.log(f"warning: {cal['warning']}")
    summary = {"best_val_acc": state["best_acc"], "best_epoch": state["epoch"], "test_acc": res["accuracy"],
               "test_tencrop_acc": ten_acc, "test_macro_f1": res["macro_f1"], "test": res,
               "calibration": calibration, "params": params,
               "sizes": ds.sizes(), "classes": list(ds.classes)}
    write_json(run.dir / "summary.json", summary)
    update_checkpoint(run.best_path, temperature=cal["temperature"],  # applied by every predictor; accuracy unchanged
                      metrics={**checkpoint_meta(state, run.best_path).metrics, "val_acc": state["best_acc"],
                               "test_acc": res["accuracy"], "test_ece": cal["ece"],
                               "test_ece_calibrated": cal["ece_calibrated"],
                               **({"test_tencrop_acc": ten_acc} if ten_acc is not None else {})})
    try:
        save_confusion(res["confusion"], ds.classes, run.graphs_dir / "confusion.png",
                       title=f"{run.id}: test, acc {res['accuracy']:.3f}")
    except Exception as e:  # noqa: BLE001 - a plot must never fail a finished run
        run.log(f"could not draw the confusion matrix: {e}")
    run.log(f"finished: best val_acc {state['best_acc']:.4f} (epoch {state['epoch']}), test_acc {res['accuracy']:.4f}"
            + (f" (ten-crop {ten_acc:.4f})" if ten_acc is not None else ""))
    run.set_status("finished")


def _save_curves(run: Run, history) -> None:
    try:
        save_curves(history, run.graphs_dir, title=run.id)
    except Exception as e:  # noqa: BLE001 - nor a plot of the curves
        run.log(f"could not draw curves: {e}")


def _progress_bar(enabled: bool, total: int, initial: int, desc: str, unit: str = "batch"):
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc[-30:], unit=unit, disable=not enabled, dynamic_ncols=True)
