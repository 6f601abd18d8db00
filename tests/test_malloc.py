"""core keeps a batch's large buffers for the next batch instead of page-faulting them in again."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# evaluation as the card and the training loop run it: 1,024 faces in batches, model48 at width 32,
# whose first activations for a 128-face batch are 38 MB (glibc's own threshold stops at 32 MB)
SCRIPT = """
import json, resource
import torch
import core
from core.evaluate import predict_probs
from core.malloc import keep_freed_memory
from core.models import create_model
torch.manual_seed(0)
torch.set_num_threads(1)
model = create_model("model48", num_classes=7, width=32)
images = torch.randint(0, 256, (1024, 1, 48, 48), dtype=torch.uint8)
predict_probs(model, images, 0.5, 0.25)  # warm-up
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
predict_probs(model, images, 0.5, 0.25)
print(json.dumps({"faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before,
                  "again": keep_freed_memory()}))
"""


def _run(**env) -> dict:
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_evaluation_batches_reuse_memory_instead_of_faulting_it_in_again():
    kept, returned = _run(), _run(FEL_KEEP_FREED_MEMORY="0")
    assert returned["faults"] > 50_000  # each batch's big buffers come fresh from the kernel
    assert kept["faults"] < returned["faults"] / 20
    assert kept["again"] is True and returned["again"] is False


def test_a_user_who_tuned_malloc_keeps_their_settings():
    assert _run(MALLOC_MMAP_THRESHOLD_="131072")["again"] is False
