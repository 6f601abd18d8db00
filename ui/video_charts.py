"""Plotly figures of the Video page (no Streamlit here): a face's emotions over time, and two models' answers
side by side on the same face."""
from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.predict.draw import hex_color

_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), font=dict(size=13), plot_bgcolor="rgba(0,0,0,0)",
               paper_bgcolor="rgba(0,0,0,0)")
STRESS_LINE = "#111827"
AGREE, DISAGREE = "#10b981", "#e5e7eb"


def track_series(rows: list[dict], track: int, model: int = 0) -> dict:
    """One track's numbers for one model: times, probabilities per class, top class, P(stress)."""
    times, probs, top, ps = [], [], [], []
    for row in rows:
        for face in row.get("faces", []):
            if face["track"] != track:
                continue
            m = face["models"][model]
            times.append(float(row["time_s"]))
            probs.append(m["probs"])
            top.append(m["emotion"])
            p = m.get("p_stress")
            ps.append(p if isinstance(p, (int, float)) and math.isfinite(p) else None)
    return {"time": times, "probs": probs, "top": top, "p_stress": ps}


def _band(labels: list[str], classes: list[str], times: list[float], name: str, hover: str = "%{text}"):
    """A one-row heatmap coloured by class: the dominant emotion as a band over time."""
    n = max(len(classes), 1)
    index = {c: i for i, c in enumerate(classes)}
    scale = []
    for i, c in enumerate(classes):
        scale += [[i / n, hex_color(c)], [(i + 1) / n, hex_color(c)]]
    return go.Heatmap(x=times, y=[name], z=[[index.get(lab, 0) for lab in labels]], text=[labels],
                      zmin=-0.5, zmax=n - 0.5, colorscale=scale or [[0, "#999"], [1, "#999"]], showscale=False,
                      hovertemplate=hover + " at %{x:.2f} s<extra>" + name + "</extra>", xgap=0)


def timeline_figure(rows: list[dict], track: int, model: dict, index: int = 0, height: int = 320,
                    title: str | None = None) -> go.Figure:
    """A face over time: each class's probability as a line, the dominant emotion as a band above, and
    P(stress) as a dashed line (emotion models: angry + fear + sad)."""
    s = track_series(rows, track, index)
    classes = list(model.get("classes") or [])
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.12, 0.88], vertical_spacing=0.04)
    fig.add_trace(_band(s["top"], classes, s["time"], "top"), row=1, col=1)
    for ci, c in enumerate(classes):
        fig.add_trace(go.Scatter(x=s["time"], y=[100.0 * p[ci] for p in s["probs"]], name=c, mode="lines",
                                 line=dict(color=hex_color(c), width=2),
                                 hovertemplate=c + ": %{y:.0f}% at %{x:.2f} s<extra></extra>"), row=2, col=1)
    if model.get("kind") != "stress" and any(p is not None for p in s["p_stress"]):
        fig.add_trace(go.Scatter(x=s["time"], y=[None if p is None else 100.0 * p for p in s["p_stress"]],
                                 name="P(stress)", mode="lines", line=dict(color=STRESS_LINE, width=2, dash="dash"),
                                 hovertemplate="P(stress): %{y:.0f}% at %{x:.2f} s<extra></extra>"), row=2, col=1)
    fig.update_layout(**_LAYOUT, height=height, title=title or f"{model.get('name', 'model')}",
                      legend=dict(orientation="h", yanchor="top", y=-0.1, xanchor="left", x=0),
                      hovermode="x unified")
    fig.update_yaxes(showticklabels=False, row=1, col=1)
    fig.update_yaxes(title="probability (%)", range=[0, 102], gridcolor="#e5e7eb", row=2, col=1)
    fig.update_xaxes(ticksuffix=" s", gridcolor="#e5e7eb", row=2, col=1)
    return fig


def agreement_figure(rows: list[dict], track: int, models: list[dict], basis: str, height: int = 220) -> go.Figure:
    """Two models on the same face: each one's answer as a band (the emotion, or the stress verdict when
    their classes differ) and, below, where they agree."""
    key = "emotion" if basis == "emotion" else "stress"
    times, labels, agree = [], ([], []), []
    for row in rows:
        for face in row.get("faces", []):
            if face["track"] != track:
                continue
            a, b = face["models"][0].get(key), face["models"][1].get(key)
            times.append(float(row["time_s"]))
            labels[0].append(a or "-")
            labels[1].append(b or "-")
            agree.append(1 if a is not None and a == b else 0)
    classes = list(models[0].get("classes") or []) if basis == "emotion" else ["no_stress", "stress"]
    names = [str(models[0].get("name")), str(models[1].get("name"))]
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    fig.add_trace(_band(labels[0], classes, times, names[0]), row=1, col=1)
    fig.add_trace(_band(labels[1], classes, times, names[1]), row=2, col=1)
    fig.add_trace(go.Heatmap(x=times, y=["agree"], z=[agree], zmin=0, zmax=1, showscale=False,
                             colorscale=[[0, DISAGREE], [0.5, DISAGREE], [0.5, AGREE], [1, AGREE]],
                             text=[["agree" if v else "disagree" for v in agree]],
                             hovertemplate="%{text} at %{x:.2f} s<extra></extra>"), row=3, col=1)
    share = sum(agree) / len(agree) if agree else 0.0
    fig.update_layout(**_LAYOUT, height=height,
                      title=f"{names[0]} vs {names[1]}: same {'emotion' if key == 'emotion' else 'stress verdict'} "
                            f"{share:.0%} of the time")
    fig.update_xaxes(ticksuffix=" s", row=3, col=1)
    return fig


def tracks_overview(tracks: list[dict], height: int | None = None) -> go.Figure:
    """When each face was on screen (a bar per track, coloured by its dominant emotion)."""
    fig = go.Figure()
    for t in tracks:
        m = t["models"][0] if t.get("models") else {}
        emotion = m.get("emotion") or "-"
        fig.add_bar(y=[f"#{t['track']}"], x=[max(t["last_s"] - t["first_s"], 0.05)], base=[t["first_s"]],
                    orientation="h", marker_color=hex_color(emotion), name=f"#{t['track']}", showlegend=False,
                    hovertemplate=f"#{t['track']}: {emotion}, %{{base:.1f}} s to {t['last_s']:.1f} s<extra></extra>")
    fig.update_layout(**_LAYOUT, height=height or 60 + 28 * max(len(tracks), 1), barmode="overlay",
                      title="Who is on screen when", xaxis=dict(ticksuffix=" s", gridcolor="#e5e7eb"),
                      yaxis=dict(type="category", autorange="reversed"))
    return fig
