"""A search's figures in the app's own words and style: validation accuracy in %, trials by number, pruned trials
told apart; Optuna computes only what it alone can (the parameters' importance), restyled.
No Streamlit here: each function returns (figure, None) or (None, why not)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .charts import LAYOUT, TRAIN_COLOR, VAL_COLOR

TARGET = "validation accuracy (%)"
PRUNED_COLOR = "#a1a1aa"
_AXIS = dict(gridcolor="#e5e7eb")


def _trials(study, state: str | None = None) -> list:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    return trials if state is None else [t for t in trials if t.state == getattr(TrialState, state)]


def history_figure(study):
    """Each finished trial's validation accuracy, and the best so far as a step line."""
    done = sorted(_trials(study, "COMPLETE"), key=lambda t: t.number)
    if not done:
        return None, "Needs at least 1 finished trial (0 so far)."
    x = [t.number for t in done]
    y = [100 * t.value for t in done]
    best = [max(y[:i + 1]) for i in range(len(y))]
    fig = go.Figure()
    fig.add_scatter(x=x, y=y, mode="markers", name="trial", marker=dict(size=9, color=VAL_COLOR),
                    hovertemplate="trial %{x}: %{y:.1f}%<extra></extra>")
    fig.add_scatter(x=x, y=best, mode="lines", name="best so far", line=dict(color=TRAIN_COLOR, shape="hv"),
                    hovertemplate="best after trial %{x}: %{y:.1f}%<extra></extra>")
    fig.update_layout(**LAYOUT, height=360, title="Validation accuracy of each finished trial",
                      xaxis=dict(title="trial", dtick=1, **_AXIS), yaxis=dict(title=TARGET, **_AXIS),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1))
    return fig, None


def epochs_figure(study):
    """Each trial's validation accuracy epoch by epoch; pruned trials (stopped early) in grey, dashed."""
    trials = [t for t in _trials(study) if t.intermediate_values]
    if not trials:
        return None, "No trial has finished an epoch yet."
    fig = go.Figure()
    for t in sorted(trials, key=lambda t: t.number):
        pruned = t.state.name == "PRUNED"
        epochs = sorted(t.intermediate_values)
        fig.add_scatter(x=epochs, y=[100 * t.intermediate_values[e] for e in epochs], mode="lines+markers",
                        name=f"trial {t.number}" + (" (pruned)" if pruned else ""),
                        line=dict(dash="dash", color=PRUNED_COLOR) if pruned else None,
                        hovertemplate=f"trial {t.number}, epoch %{{x}}: %{{y:.1f}}%<extra></extra>")
    fig.update_layout(**LAYOUT, height=360, title="Validation accuracy epoch by epoch (pruned trials dashed)",
                      xaxis=dict(title="epoch", dtick=1, **_AXIS), yaxis=dict(title=TARGET, **_AXIS))
    return fig, None


def importance_figure(study):
    """How much each searched setting explains the validation accuracy (Optuna's fANOVA), restyled."""
    import warnings

    import optuna

    done = _trials(study, "COMPLETE")
    if len(done) < 2 or not done[0].params or len({tuple(sorted(t.params.items())) for t in done}) < 2:
        return None, "Needs at least 2 finished trials with different settings."
    try:
        warnings.filterwarnings("ignore", message="Target and region quantiles")  # few trials: importances equal
        fig = optuna.visualization.plot_param_importances(study, target_name="validation accuracy")
    except Exception as e:  # noqa: BLE001 - optuna refuses some studies
        return None, f"Cannot be drawn yet: {e}"
    fig.update_traces(marker_color=VAL_COLOR, selector=dict(type="bar"))
    fig.update_layout(**LAYOUT, height=360, showlegend=False,
                      title="Which settings mattered most (share of the accuracy's variation)",
                      xaxis=dict(title="importance", **_AXIS), yaxis=dict(title=None))
    return fig, None


def _dimension(name: str, values: list) -> dict:
    """One axis of the parallel coordinates: numbers as they are (a log scale's as powers of ten), choices as
    evenly spaced ticks named by their values."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        vals = [float(v) for v in values]
        if min(vals) > 0 and max(vals) / min(vals) >= 100:
            ticks = sorted(set(np.floor(np.log10(vals)).astype(int)) | set(np.ceil(np.log10(vals)).astype(int)))
            return dict(label=f"{name} (log)", values=list(np.log10(vals)), tickvals=ticks,
                        ticktext=[f"{10.0 ** t:g}" for t in ticks])
        return dict(label=name, values=vals)
    choices = sorted({str(v) for v in values})
    return dict(label=name, values=[choices.index(str(v)) for v in values], tickvals=list(range(len(choices))),
                ticktext=choices)


def parallel_figure(study):
    """Every finished trial as a line through its settings to its validation accuracy, coloured by it."""
    done = [t for t in _trials(study, "COMPLETE") if t.params]
    if not done:
        return None, "Needs at least 1 finished trial with searched settings (0 so far)."
    names = sorted({k for t in done for k in t.params})
    done = [t for t in done if all(k in t.params for k in names)]
    acc = [100 * t.value for t in done]
    dims = [_dimension(k, [t.params[k] for t in done]) for k in names]
    dims.append(dict(label="val. accuracy (%)", values=acc, tickformat=".1f"))
    fig = go.Figure(go.Parcoords(dimensions=dims, line=dict(color=acc, colorscale="Blues", showscale=True,
                                                              colorbar=dict(title="val. acc. %"))))
    fig.update_layout(**{**LAYOUT, "margin": dict(l=60, r=60, t=110, b=20)}, height=420,
                      title="Each finished trial's settings, coloured by its validation accuracy")
    return fig, None


FIGURES = {"Validation accuracy by trial": history_figure, "Epoch by epoch": epochs_figure,
           "Settings compared": parallel_figure, "What mattered": importance_figure}
