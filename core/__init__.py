"""Facial Emotion Lab's engine. Nothing here imports Streamlit; the app's pages and `python -m core` call the
same functions.

Its packages are layers, and a module imports only from its own layer or those below it (tests/test_layers.py
checks the import graph, and that it has no circle):

    0  settings, labels, files, processes, records, malloc, native, results   where things are; class and TTA names;
                                              atomic files, logs' tails; which process owns what, spawned
                                              detached; the folder record a run and a video analysis share;
                                              native libraries loaded in a safe order; measured figures as files
    1  data        data sets, image decoding, augmentation, synthetic sets
    2  models      the model registry and families, the checkpoint format and its description (CheckpointMeta),
                   int8 models
    3  config, evaluate, paired, calibration        a run's configuration; metrics and the one forward pass; two
                                                    models compared on the same faces; ECE, temperature
    4  runs        the run folder (and shipped models as read-only runs)
    5  predict     predictors, the model catalogue, detectors, crops, tracking, the frame pipeline
    6  train       the training loop, optimiser, distillation, recipes, plots, DDP
    6  video       a clip's faces followed, their emotions over time, the analysis folder, the annotated copy
    7  jobs, workflows, docs                         queue, workers, searches; evaluate, compare, quantize,
                                                    card, ship; the READMEs' figures rendered from results/
    8  cli         `python -m core ...`
"""
__version__ = "0.2.0"

from .malloc import keep_freed_memory

keep_freed_memory()  # every entry point (CLI, training worker, the app's pages) imports core first
