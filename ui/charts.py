"""Plotly figures the pages show (no Streamlit here: each function returns a `plotly.graph_objects.Figure`)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .draw import hex_color

# Models are told apart by colour in grouped charts; classes keep their own colours in single-model charts.
MODEL_PALETTE = ["#4f46e5", "#f97316", "#10b981", "#e11d48", "#0ea5e9", "#a855f7", "#84cc16", "#64748b"]
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), font=dict(size=13), plot_bgcolor="rgba(0,0,0,0)",
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
    fig.update_layout(**_LAYOUT, barmode="group", height=height, title=title, showlegend=not single,
                      yaxis=dict(title="probability (%)", range=[0, 109], gridcolor="#e5e7eb"),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1))
    return fig


def face_bars(probs, classes, height: int = 210, title: str | None = None) -> go.Figure:
    """Horizontal bars for one face and one model, each class in its colour (the live webcam view)."""
    values = [100.0 * float(p) for p in probs]
    fig = go.Figure(go.Bar(x=values, y=list(classes), orientation="h",
                           marker_color=[hex_color(c) for c in classes],
                           text=[f"{v:.0f}%" for v in values], textposition="auto",
                           hovertemplate="%{y}: %{x:.1f}%<extra></extra>"))
    fig.update_layout(**_LAYOUT, height=height, title=title, showlegend=False,
                      xaxis=dict(range=[0, 100], visible=False), yaxis=dict(autorange="reversed"))
    fig.update_layout(margin=dict(l=10, r=10, t=30 if title else 5, b=5))
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
    fig.update_layout(**_LAYOUT, height=height, title=title,
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
    fig.update_layout(**_LAYOUT, barmode="group", height=height, title=title,
                      yaxis=dict(title="recall (%)", range=[0, 100], gridcolor="#e5e7eb"),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1))
    return fig


def accuracy_chart(accuracies: dict[str, float], height: int = 260) -> go.Figure:
    """One bar per model: overall accuracy (%)."""
    names = list(accuracies)
    values = [100.0 * float(accuracies[n]) for n in names]
    fig = go.Figure(go.Bar(x=values, y=names, orientation="h", marker_color=[model_color(i) for i in range(len(names))],
                           text=[f"{v:.1f}%" for v in values], textposition="auto"))
    fig.update_layout(**_LAYOUT, height=max(120, 60 + 45 * len(names)), title="Accuracy",
                      xaxis=dict(range=[0, 100], title="accuracy (%)"), yaxis=dict(autorange="reversed"),
                      showlegend=False)
    return fig
