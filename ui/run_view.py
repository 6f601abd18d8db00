"""One run, live: its header, state, progress, numbers, curves, controls (stop, cancel, resume) and log,
refreshed while it trains; and the queue beside it. Everything is read from the run's folder."""
from __future__ import annotations

import html

import streamlit as st

from core import jobs
from core.config import TrainConfig
from core.files import tail
from core.runs import Run

from . import charts
from .format import data_name, display_state, fmt_duration, fmt_pct, run_made, state_pill


REFRESH_S = 2           # live view refresh while a run is active


def progress_of(run: Run, cfg: TrainConfig | None = None) -> tuple[float, str]:
    """(fraction done, one line) from progress.json and the metrics."""
    p = run.progress()
    try:
        cfg = cfg or run.config()
    except ValueError:
        return 0.0, "its config.json is damaged"
    if p.get("phase") == "test":
        return _testing(p)
    if not p or "epoch" not in p:
        done = len(run.metrics())
        return done / max(cfg.epochs, 1), "Starting: loading the data set and building the model…"
    epochs, steps = max(int(p.get("epochs", cfg.epochs)), 1), max(int(p.get("steps", 1)), 1)
    epoch, step = int(p.get("epoch", 1)), int(p.get("step", 0))
    frac = min(1.0, ((epoch - 1) * steps + step) / (epochs * steps))
    parts = [f"Epoch {epoch}/{epochs}", f"batch {step}/{steps}"]
    if p.get("images_per_s"):
        parts.append(f"{p['images_per_s']:,.0f} images/s")
    if p.get("eta_s") is not None and frac < 1:
        parts.append(f"about {fmt_duration(p['eta_s'])} left")
    if p.get("loss") is not None:
        parts.append(f"loss {p['loss']:.3f}, accuracy {100 * p.get('acc', 0):.1f}% this epoch")
    return frac, " · ".join(parts)


def _testing(p: dict) -> tuple[float, str]:
    """(fraction, line) while the best weights are tested after the last epoch (progress.json's phase "test")."""
    total = max(int(p.get("total") or 1), 1)
    frac = min(1.0, int(p.get("done") or 0) / total)
    what = "plain and on ten crops" if int(p.get("views") or 1) > 1 else "plain"
    return frac, (f"All {p.get('epochs', '?')} epochs done · testing the best weights ({what}): {100 * frac:.0f}% "
                  f"of {total:,} face passes")


def run_options(runs: list[Run]) -> list[str]:
    """Active runs first (running, then the queue), then the others, newest first."""
    active = [r.id for r in jobs.active_runs()]
    return active + [r.id for r in runs if r.id not in active]


def run_label(run_id: str) -> str:
    """A stable label (the state shows beside the run, not here: a label must not change under the user's click)."""
    try:
        run = Run.open(run_id)
    except (ValueError, FileNotFoundError):
        return run_id
    when = run_made(run)  # not its start: that moves when a queued run starts, and the label with it
    return f"{run.title} · {when:%b %d, %H:%M}" if when else run.title


def run_header(run: Run, state: str, cfg: TrainConfig) -> None:
    items = [("model", f"{cfg.model}" + (f" ×{cfg.width}" if cfg.width else "")), ("task", cfg.task),
             ("data", data_name(cfg)), ("epochs", cfg.epochs), ("batch", cfg.batch_size),
             ("optimizer", f"{cfg.optimizer} lr {cfg.lr:g}")]
    if cfg.limit:
        items.append(("images", f"{cfg.limit:,}"))
    kv = " · ".join(f"{k} <b>{html.escape(str(v))}</b>" for k, v in items)
    title = run.title
    st.markdown(f"<div class='fel-run-head'><span class='fel-run-title'>{html.escape(title)}</span>"
                f"{state_pill(state)}</div><div class='fel-kv'>{kv} · folder <code>{html.escape(run.id)}</code></div>",
                unsafe_allow_html=True)


def run_metrics_row(run: Run, cfg: TrainConfig, rows: list[dict]) -> None:
    summary = run.summary()
    best = max(rows, key=lambda r: r["val_acc"]) if rows else None
    c = st.columns(4)
    c[0].metric("Epochs done", f"{len(rows)} / {cfg.epochs}")
    c[1].metric("Best val. accuracy", fmt_pct(best["val_acc"]) if best else "–",
                help=f"at epoch {best['epoch']}" if best else None)
    if summary.get("test_acc") is not None:
        c[2].metric("Test accuracy", fmt_pct(summary["test_acc"]), help="of the best epoch's weights")
    else:
        c[2].metric("Train accuracy", fmt_pct(rows[-1].get("train_acc")) if rows else "–")
    c[3].metric("Training time", fmt_duration(sum(r.get("seconds", 0) for r in rows)) if rows else "–")


def run_controls(run: Run, state: str, key: str) -> None:
    """Stop / resume / cancel. A click reruns the fragment (or the page where the refresh must change)."""
    cols = st.columns([1, 1, 3])
    if state in ("running", "stopping"):
        if cols[0].button("Stop", key=f"{key}_stop", icon=":material/stop_circle:", disabled=state == "stopping",
                          help="Saves a checkpoint at once (mid-epoch); Resume continues from exactly there."):
            jobs.stop(run)
            st.toast(f"Stopping {run.title}: saving a checkpoint…", icon=":material/stop_circle:")
            st.rerun()
    elif state == "queued":
        if cols[0].button("Cancel", key=f"{key}_cancel", icon=":material/cancel:",
                          help="Take it out of the queue. You can still start it later with Resume."):
            _queue_action(jobs.cancel, run, "taken out of the queue.", ":material/cancel:")
    elif state in ("stopped", "interrupted", "failed", "cancelled", "pruned"):
        label = "Resume" if (run.last_path.exists() and state != "failed") else (
            "Retry" if state == "failed" else "Start")
        if cols[0].button(label, key=f"{key}_resume", icon=":material/play_arrow:", type="primary",
                          help="Queue it again; it continues from its last checkpoint (or starts over if it has none)."):
            _queue_action(jobs.resume, run, "is queued again.", ":material/play_arrow:")


def _queue_action(action, run: Run, done: str, icon: str) -> None:
    """Cancel or resume through the launcher: a toast and a redraw when it worked; its reason, left on the
    page (a rerun would wipe it at once), when it refused."""
    try:
        action(run)
    except ValueError as e:
        st.warning(str(e))
        return
    st.toast(f"{run.title} {done}", icon=icon)
    st.rerun()


def state_message(run: Run, state: str, rows: list[dict]) -> None:
    status = run.status()
    if state == "failed":
        st.error(f"**Training failed.** {status.get('error') or 'See the log below.'}", icon=":material/error:")
    elif state == "interrupted":
        st.warning(f"**Interrupted.** The process training this run ended without finishing (the computer "
                   f"restarted, or it was killed). Nothing is lost: **Resume** continues from the last checkpoint "
                   f"({len(rows)} epoch(s) done).", icon=":material/warning:")
    elif state == "stopped":
        st.info("Stopped with a checkpoint. **Resume** continues at the same batch.", icon=":material/pause_circle:")
    elif state == "cancelled":
        st.info("Taken out of the queue before it started.", icon=":material/cancel:")
    elif state == "pruned":
        st.info("Ended early by the hyper-parameter search: it was doing worse than earlier trials.",
                icon=":material/content_cut:")
    elif state == "queued":
        pos = jobs.queue_position(run)
        n = jobs.max_parallel()
        st.info(f"**Waiting in the queue**{f' (position {pos})' if pos else ''}. It starts as soon as "
                f"{'a run' if n > 1 else 'the run'} before it ends (runs at once: {n}).", icon=":material/schedule:")
    elif state == "finished":
        s = run.summary()
        if s:
            st.success(f"**Finished.** Best validation accuracy {fmt_pct(s.get('best_val_acc'))} at epoch "
                       f"{s.get('best_epoch')}; test accuracy {fmt_pct(s.get('test_acc'))}. Compare it with the others "
                       "on the **Experiments** page.", icon=":material/check_circle:")


def damaged_message(run: Run, problem: str) -> None:
    """A run whose folder holds a damaged file: what is wrong, and that the other runs are not affected."""
    st.error(f"**The folder of this run is damaged:** {problem}. The other runs are not affected; mend the file "
             f"or delete the run (Experiments page, Manage). Folder: `{run.dir}`", icon=":material/broken_image:")


def run_view(run: Run, key: str = "live", show_controls: bool = True, log_lines: int = 12,
             state: str | None = None) -> str:
    """Everything about one run: header, state, progress, numbers, curves, controls, log. Returns the state.
    `state`: the run's state as read with others on the page (jobs.queue_snapshot), so they agree."""
    problem = run.problem()
    if problem:
        damaged_message(run, problem)
        return "damaged"
    cfg = run.config()
    state = display_state(run, state)
    rows = run.metrics()
    run_header(run, state, cfg)
    if state in ("running", "stopping"):
        frac, text = progress_of(run, cfg)
        st.progress(frac, text=text)
    state_message(run, state, rows)
    if show_controls:
        run_controls(run, state, key)
    run_metrics_row(run, cfg, rows)
    steps = run.steps()
    if rows or steps:
        c1, c2 = st.columns(2)
        for col, metric in ((c1, "loss"), (c2, "acc")):
            col.plotly_chart(charts.curves_figure({run.title: rows}, metric, height=300, steps=steps),
                             key=f"{key}_{metric}", config={"displayModeBar": False})
        if steps and not rows:
            st.caption("Training figures so far, a few points per epoch; validation joins at the end of the epoch.")
    elif state in ("running", "queued", "stopping"):
        st.caption("The curves appear after the first few batches.")
    log = run.tail_log(log_lines)
    with st.expander("Log (last lines)", expanded=state in ("failed",), icon=":material/article:"):
        st.code(log or "(nothing yet)", language=None)
        out = run.dir / "output.log"
        if state == "failed" and out.exists():
            last = tail(out, 15)
            if last.strip():
                st.caption("Process output")
                st.code(last, language=None)
    return state


def live_panel(run_id: str, refresh: bool) -> None:
    """The chosen run and the queue beside it, refreshed together every few seconds while any run is queued or
    training (`refresh`). Both are drawn from one reading of the runs' states (jobs.queue_snapshot): the run's
    badge and the queue never say different things."""

    @st.fragment(run_every=REFRESH_S if refresh else None)
    def _panel():
        running, queued = jobs.queue_snapshot()
        if bool(running or queued) != refresh:
            st.rerun()  # the whole page: the refresh switches on or off, the lists change
        main, side = st.columns([7, 3], gap="medium")
        with side:  # first: it is quick to draw, so it changes together with the run's badge drawn next
            _queue_box(running, queued)
        with main, st.container(border=True):
            try:
                run = Run.open(run_id)
            except (ValueError, FileNotFoundError):
                st.info("This run no longer exists.")
            else:
                now = "running" if run.id in {r.id for r in running} else (
                    "queued" if run.id in {r.id for r in queued} else None)
                run_view(run, key=f"live_{run.id}", state=now)

    _panel()


def _queue_box(running: list[Run], queued: list[Run]) -> None:
    """Running runs and the queue, in the order they will start; cancel a waiting run; runs at once."""
    n = jobs.max_parallel()
    with st.container(border=True):
        st.markdown("##### :material/queue: Queue")
        st.caption(f"{len(running)} running · {len(queued)} waiting · up to **{n}** at a time")
        if not queued and not running:
            st.caption("Nothing running: a run you start begins at once.")
        for r in running:
            frac, text = progress_of(r)
            st.progress(frac, text=f"**{html.escape(r.title)}** · {text.split(' · ')[0]}")
        for i, r in enumerate(queued, 1):
            managed = {"search": " · search trial", "torchrun": " · starting its processes"}.get(
                r.status().get("managed"), "")
            st.markdown(f"**{i}.** {html.escape(r.title)} <span class='fel-kv'>· waiting{managed}</span>",
                        unsafe_allow_html=True)
            if st.button("Cancel", key=f"q_cancel_{r.id}", icon=":material/close:", type="tertiary",
                         help="Take it out of the queue (Resume starts it later)."):
                try:
                    jobs.cancel(r)
                except ValueError as e:
                    st.warning(str(e))
                st.rerun()
        with st.popover("Runs at once", icon=":material/settings:", width="stretch"):
            new = st.number_input("Runs training at the same time", min_value=1, max_value=jobs.MAX_PARALLEL,
                                  value=n, step=1, key="q_max_parallel",
                                  help="On a small computer one at a time is fastest overall: two runs share "
                                       "the same cores and each takes twice as long.")
            if st.button("Save", key="q_save", disabled=new == n):
                jobs.set_max_parallel(int(new))
                st.rerun()
