"""What drives the app from outside, as a user or an operator would, shared by the tests and the benchmarks (the
app never imports it; tests/test_layers.py checks): a headless browser serving and driving the pages (browser),
hooks installed in a process a test or a benchmark starts (env.hooked_env, hooks/sitecustomize.py, webcam_stats,
ddp_trace), and untrained DeepFace weights for machines without internet (deepface_weights)."""
