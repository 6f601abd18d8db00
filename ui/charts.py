"""Plotly figures the pages show (no Streamlit here: each function returns a `plotly.graph_objects.Figure`)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.predict.draw import hex_color

# Models are told apart by colour in grouped charts; classes keep their own colours in single-model charts.
TRAIN_COLOR, VAL_COLOR = "#f97316", "#4f46e5"
MODEL_PALETTE = ["#4f46e5", "#f97316", "#10b981", "#e11d48", "#0ea5e9", "#a855f7", "#84cc16", "#64748b"]
LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), font=dict(size=13), plot_bgcolor="rgba(0,0,0,0)",
              paper_bgcolor="rgba(0,0,0,0)")


def model_color(i: int) -> str:
    return MODEL_PALETTE[i % len(MODEL_PALETTE)]


def probability_chart(per_model: dict[str, dict[str, float]], classes, title: str | None = None,
                      height: int = 300) -> go.Figure:
    """Grouped bars: one group per class, one bar per model (probabilities in %)."""
    fig = go.Figure()
    single = len(per_model) == 1  # one model: each class in its own colour, as on the webcam page
    for i, (model, probs) in enumerate(per_model.items()):
        values = [100.0 * float(probs.get(c, np.nan)) for c in classes]
        colors = [hex_color(c) for c in classes] if single else model_color(i)
        fig.add_bar(name=model, x=list(classes), y=values, marker_color=colors,
                    text=[f"{v:.0f}" if v == v and v >= 5 else "" for v in values], textposition="outside",
                    hovertemplate="%{x}: %{y:.1f}%<extra>" + model + "</extra>")
    fig.update_layout(**LAYOUT, barmode="group", height=height, title=title, showlegend=not single,
                      yaxis=dict(title="probability (%)", range=[0, 109], gridcolor="#e5e7eb"),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1))
    return fig


def html_bars(probs, classes, title: str | None = None) -> str:
    """Light HTML probability bars for one face (the live webcam panel redraws them several times a second,
    where a plotly chart would be heavy and flicker)."""
    from html import escape

    rows = []
    top = int(np.argmax(probs)) if len(probs) else -1
    for i, (c, p) in enumerate(zip(classes, probs)):
        pct = 100.0 * float(p)
        weight = "700" if i == top else "400"
        rows.append(
            f"<div style='display:flex;align-items:center;gap:8px;margin:2px 0'>"
            f"<div style='width:72px;text-align:right;font-size:0.85rem;font-weight:{weight}'>{escape(str(c))}</div>"
            f"<div style='flex:1;background:#eef0f6;border-radius:4px;height:16px'>"
            f"<div style='width:{pct:.1f}%;background:{hex_color(c)};height:16px;border-radius:4px'></div></div>"
            f"<div style='width:42px;font-size:0.85rem;font-variant-numeric:tabular-nums'>{pct:.0f}%</div></div>")
    head = f"<div style='font-weight:600;margin:6px 0 4px'>{escape(title)}</div>" if title else ""
    return f"<div>{head}{''.join(rows)}</div>"


def confusion_heatmap(confusion, classes, title: str = "", normalize: bool = True, height: int = 380) -> go.Figure:
    """Rows are the true class, columns the prediction; cells show the row share (recall) and the count."""
    cm = np.asarray(confusion, dtype=np.float64)
    rows = cm.sum(1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    z = share * 100 if normalize else cm
    text = [[f"{share[i, j] * 100:.0f}%<br>({int(cm[i, j])})" for j in range(cm.shape[1])] for i in range(cm.shape[0])]
    fig = go.Figure(go.Heatmap(z=z, x=list(classes), y=list(classes), colorscale="Blues", zmin=0,
                               zmax=100 if normalize else None, text=text, texttemplate="%{text}",
                               textfont=dict(size=10), showscale=False,
                               hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>"))
    fig.update_layout(**LAYOUT, height=height, title=title,
                      xaxis=dict(title="predicted", side="bottom", tickangle=-30),
                      yaxis=dict(title="true", autorange="reversed"))
    return fig


def per_class_chart(per_model: dict[str, dict[str, float]], classes, height: int = 320,
                    title: str = "Accuracy per class (recall)") -> go.Figure:
    """Grouped bars of per-class recall, one colour per model."""
    fig = go.Figure()
    for i, (model, rec) in enumerate(per_model.items()):
        values = [100.0 * float(rec.get(c, 0.0)) for c in classes]
        fig.add_bar(name=model, x=list(classes), y=values, marker_color=model_color(i),
                    hovertemplate="%{x}: %{y:.1f}%<extra>" + model + "</extra>")
    fig.update_layout(**LAYOUT, barmode="group", height=height, title=title,
                      yaxis=dict(title="recall (%)", range=[0, 100], gridcolor="#e5e7eb"),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1))
    return fig


LINE_LAYOUT = dict(LAYOUT, hovermode="x unified",
                   legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1))


def curves_figure(series: dict[str, list[dict]], metric: str = "acc", show_train: bool = True,
                  height: int = 320, title: str | None = None, steps: list[dict] | None = None) -> go.Figure:
    """Loss or accuracy against (fractional) epochs. One run: train (orange) and validation (indigo); its
    `steps` (the running training figures within epochs, core.runs.Run.steps) draw the train line between the
    epochs' ends, so a run shows it learns before its first epoch ends. Several runs: one colour per run,
    validation solid and training dotted."""
    fig = go.Figure()
    scale = 100.0 if metric == "acc" else 1.0
    single = len(series) == 1
    fmt = "%{y:.1f}%" if metric == "acc" else "%{y:.3f}"
    for i, (label, rows) in enumerate(series.items()):
        if not rows and not (single and steps):
            continue
        x = [r["epoch"] for r in rows]
        mode = "lines+markers" if len(rows) < 30 else "lines"
        val, train = _values(rows, f"val_{metric}", scale), _values(rows, f"train_{metric}", scale)
        if single:
            if show_train:
                tx, ty = _train_line(rows, steps or [], metric, scale)
                fig.add_scatter(x=tx, y=ty, name="train", mode="lines+markers" if len(tx) < 30 else "lines",
                                line=dict(color=TRAIN_COLOR, width=2), marker=dict(size=5), hovertemplate=fmt)
            if rows:
                fig.add_scatter(x=x, y=val, name="validation", mode=mode, line=dict(color=VAL_COLOR, width=3),
                                hovertemplate=fmt)
        else:
            color = model_color(i)
            fig.add_scatter(x=x, y=val, name=label, mode=mode, legendgroup=label, line=dict(color=color, width=3),
                            hovertemplate=fmt)
            if show_train:
                fig.add_scatter(x=x, y=train, name=f"{label} (train)", mode="lines", legendgroup=label,
                                showlegend=False, line=dict(color=color, width=1.5, dash="dot"), hovertemplate=fmt)
    ytitle = "accuracy (%)" if metric == "acc" else "loss"
    fig.update_layout(**LINE_LAYOUT, height=height,
                      title=title or ("Accuracy" if metric == "acc" else "Loss"),
                      xaxis=dict(title="epoch", gridcolor="#eef0f4", rangemode="tozero", hoverformat=".2f"),
                      yaxis=dict(title=ytitle, gridcolor="#e5e7eb"))
    if metric == "acc":
        fig.update_yaxes(rangemode="tozero")
    if not single:  # many runs: the legend goes under the plot, where there is room for their names
        fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.25, xanchor="left", x=0),
                          margin=dict(l=10, r=10, t=40, b=10))
    return fig


def _train_line(rows: list[dict], steps: list[dict], metric: str, scale: float) -> tuple[list, list]:
    """The train line's points: the running figures within epochs where the run wrote them, each finished epoch's
    own where it did not (a run made before steps.jsonl, or epochs before a resume from such a run)."""
    covered = {round(p["epoch"], 3) for p in steps}
    points = [(p["epoch"], p) for p in steps] + [(r["epoch"], r) for r in rows if round(r["epoch"], 3) not in covered]
    points.sort(key=lambda xp: xp[0])
    return [x for x, _ in points], _values([p for _, p in points], f"train_{metric}", scale)


def _values(rows: list[dict], key: str, scale: float) -> list[float | None]:
    """One figure per epoch; a missing or non-finite one (a diverged run's NaN loss, saved as null) is a gap."""
    out = []
    for r in rows:
        v = r.get(key)
        out.append(scale * v if isinstance(v, (int, float)) and np.isfinite(v) else None)
    return out


def class_bars(per_class: list[dict], height: int = 320, title: str = "Per class") -> go.Figure:
    """Recall (accuracy on that class) as bars, precision as diamonds, for one evaluation."""
    names = [p["class"] for p in per_class]
    recall = [100 * p["recall"] for p in per_class]
    precision = [100 * p["precision"] for p in per_class]
    support = [p["support"] for p in per_class]
    fig = go.Figure()
    fig.add_bar(x=names, y=recall, name="accuracy on the class (recall)", marker_color=VAL_COLOR,
                text=[f"{v:.0f}" for v in recall], textposition="outside", customdata=support,
                hovertemplate="%{x}: %{y:.1f}% of %{customdata} faces<extra></extra>")
    fig.add_scatter(x=names, y=precision, name="precision", mode="markers",
                    marker=dict(symbol="diamond", size=11, color=TRAIN_COLOR, line=dict(color="white", width=1)),
                    hovertemplate="%{x}: precision %{y:.1f}%<extra></extra>")
    fig.update_layout(**LAYOUT, height=height, title=title, legend=LINE_LAYOUT["legend"],
                      yaxis=dict(title="%", range=[0, 112], gridcolor="#e5e7eb"), xaxis=dict(tickangle=-30))
    return fig


def class_counts(counts: dict) -> go.Figure:
    """Training images per class, as horizontal bars (the data set box of the Train page)."""
    fig = go.Figure(go.Bar(x=list(counts.values()), y=list(counts), orientation="h", marker_color=VAL_COLOR,
                           text=[f"{v:,}" for v in counts.values()], textposition="auto"))
    fig.update_layout(**LAYOUT, height=60 + 26 * len(counts), title="Training images per class",
                      xaxis=dict(visible=False), yaxis=dict(autorange="reversed"), showlegend=False)
    return fig


RELIABLE_SHARE = 0.01  # a confidence bin with fewer faces than this share of them (or than RELIABLE_MIN) says little
RELIABLE_MIN = 20


def reliability_diagram(per_model: dict[str, list[dict]], height: int = 440,
                        title: str = "Reliability: confidence against accuracy") -> go.Figure:
    """Per model, its accuracy in each confidence bin (core.calibration.reliability) against the bin's mean
    confidence: a calibrated model's points sit on the diagonal; below it, the model is over-confident. Below,
    the faces in each bin. A line joins only bins with enough faces (RELIABLE_SHARE of them, at least
    RELIABLE_MIN): a bin of 3 faces at 100% is drawn as a hollow point, with no line leading to it."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.74, 0.26], vertical_spacing=0.06)
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color="#9ca3af", dash="dash"),
                    name="calibrated", hoverinfo="skip", row=1, col=1)
    for i, (model, bins) in enumerate(per_model.items()):
        color = model_color(i)
        total = sum(b["count"] for b in bins) or 1
        enough = max(RELIABLE_MIN, RELIABLE_SHARE * total)
        hover = ("confidence %{customdata[1]:.2f}-%{customdata[2]:.2f}: mean %{x:.1%}, right %{y:.1%} of "
                 "%{customdata[0]:,} faces<extra>" + model + "</extra>")
        # one point per bin with enough faces; None between them breaks the line over a thin or empty bin
        xs, ys, data = [], [], []
        for b in bins:
            full = b["count"] >= enough
            xs.append(b["confidence"] if full else None)
            ys.append(b["accuracy"] if full else None)
            data.append([b["count"], b["lo"], b["hi"]])
        fig.add_scatter(x=xs, y=ys, mode="lines+markers", name=model, line=dict(color=color), connectgaps=False,
                        marker=dict(size=8), customdata=data, hovertemplate=hover, legendgroup=model,
                        row=1, col=1)
        thin = [b for b in bins if 0 < b["count"] < enough]
        if thin:
            fig.add_scatter(x=[b["confidence"] for b in thin], y=[b["accuracy"] for b in thin], mode="markers",
                            name=f"{model}: under {enough:,.0f} faces", legendgroup=model, showlegend=False,
                            marker=dict(size=7, color="rgba(0,0,0,0)", line=dict(color=color, width=1.5)),
                            customdata=[[b["count"], b["lo"], b["hi"]] for b in thin], hovertemplate=hover,
                            row=1, col=1)
        fig.add_bar(x=[(b["lo"] + b["hi"]) / 2 for b in bins], y=[b["count"] for b in bins],
                    width=[0.8 * (b["hi"] - b["lo"]) / max(len(per_model), 1) for b in bins],
                    offset=[(-0.4 + 0.8 * i / max(len(per_model), 1)) * (b["hi"] - b["lo"]) for b in bins],
                    marker_color=color, name=f"{model}: faces", legendgroup=model, showlegend=False,
                    customdata=[[b["lo"], b["hi"]] for b in bins],
                    hovertemplate="confidence %{customdata[0]:.2f}-%{customdata[1]:.2f}: %{y:,} faces<extra>"
                                  + model + "</extra>", row=2, col=1)
    title += "<br><sup>hollow: a bin with too few faces to say much</sup>"
    fig.update_layout(**LAYOUT, height=height, title=title, barmode="overlay",
                      legend=dict(yanchor="top", y=0.98, xanchor="left", x=0.02))  # above the diagonal: rarely used
    fig.update_layout(margin=dict(l=10, r=10, t=70, b=10))  # room for the title's second line
    fig.update_xaxes(range=[0, 1], tickformat=".0%", gridcolor="#e5e7eb")
    fig.update_xaxes(title="confidence", row=2, col=1)
    fig.update_yaxes(title="accuracy", range=[-0.03, 1.05], tickformat=".0%", gridcolor="#e5e7eb", row=1, col=1)
    fig.update_yaxes(title="faces", gridcolor="#e5e7eb", rangemode="tozero", row=2, col=1)
    return fig
