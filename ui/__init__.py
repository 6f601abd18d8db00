"""Streamlit-side helpers shared by the pages: settings read from the environment, cached loaders,
the model picker, drawing on frames, plotly chart builders and the live webcam analyser.

The engine (`core/`) knows nothing of Streamlit; the pages stay thin by calling what is here.
`ui.draw`, `ui.charts` and `ui.live` do not import Streamlit either (they are testable on their own);
`ui.widgets` does.
"""
