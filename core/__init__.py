"""Facial Emotion Lab's engine: data, models, training, runs, evaluation, faces and predictors.

Nothing here imports Streamlit; the app's pages and `python -m core` call the same functions."""
__version__ = "0.1.0"

from .malloc import keep_freed_memory

keep_freed_memory()  # every entry point (CLI, training worker, the app's pages) imports core first
