"""DeepFace ready to time in a benchmark: its real weights where they are, otherwise untrained weights of its
own architecture in a temporary DEEPFACE_HOME (the same compute; the figures are speeds, not accuracies)."""
from __future__ import annotations

import os
import time
from pathlib import Path


def ready_deepface(tmp: Path):
    """A loaded DeepFacePredictor, or None when DeepFace cannot run here; says which weights, and the load time."""
    from core.predict import deepface as dfb

    t0 = time.perf_counter()
    note = "real weights"
    status = dfb.weights_status()
    if not status["present"]:
        home = Path(tmp) / "deepface_home"
        os.environ["DEEPFACE_HOME"] = str(home)
        from harness.deepface_weights import write_random_weights  # test-only code, shared with the benchmarks

        write_random_weights(home)
        note = f"untrained weights written to a temporary DEEPFACE_HOME ({home})"
    elif status.get("random"):
        note = "untrained (random) weights found in DEEPFACE_HOME"
    try:
        predictor = dfb.DeepFacePredictor().load()
    except Exception as e:  # noqa: BLE001 - a benchmark goes on without DeepFace
        print(f"DeepFace: not run ({type(e).__name__}: {e})")
        return None
    print(f"DeepFace: {note}; TensorFlow + model loaded in {time.perf_counter() - t0:.1f} s")
    return predictor
