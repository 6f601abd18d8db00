"""Facial Emotion Lab's engine: data, models, training, runs, evaluation, faces and predictors.

Nothing here imports Streamlit; the app's pages and `python -m core` call the same functions."""
__version__ = "0.1.0"
