"""The test-only code lives outside the app (harness/): a process a test starts gets it through harness/hooks/sitecustomize.py
(`hooked_env`), and production keeps only the plain attribute each hook sets."""
from __future__ import annotations

import json
import subprocess
import sys

from harness.env import hooked_env
from tests.helpers import ROOT

PROBE = """
import json, sys
import core.predict.frame as frame
import core.train.loop as loop
la = frame.LiveAnalyser()
if la.on_frame is not None:
    la.on_frame(la)
print(json.dumps({"on_frame": type(la.on_frame).__name__, "init": loop._Training.__init__.__name__}))
"""


def probe(env) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_without_the_hooks_production_has_no_test_code(tmp_path):
    stats = tmp_path / "stats.json"
    env = hooked_env(FEL_WEBCAM_STATS=stats, FEL_DDP_TRACE=tmp_path / "trace")
    env["PYTHONPATH"] = ""  # the variables alone do nothing: production reads none of them
    assert probe(env) == {"on_frame": "NoneType", "init": "__init__"} and not stats.exists()


def test_the_hooks_set_the_attributes_production_leaves_for_them(tmp_path):
    stats = tmp_path / "stats.json"
    got = probe(hooked_env(FEL_WEBCAM_STATS=stats, FEL_DDP_TRACE=tmp_path / "trace"))
    assert got == {"on_frame": "StatsWriter", "init": "traced"}
    s = json.loads(stats.read_text())
    assert s["frames"] == 0 and s["max_faces"] == 0 and s["faces"] == 0 and s["labels"] == [] and "time" in s
