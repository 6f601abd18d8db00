"""FER2013 load time: its split sizes and class counts from the labels alone (what the Train page shows first,
core.data.counts), a cold parse of the CSV (what the page's background decode does, once) and a load from the
decoded-array cache. Writes results/data-load.json.

    python bench/data_load.py [--data PATH]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="FER2013 CSV or image folder (default: the one core finds)")
    args = ap.parse_args()
    os.environ["FEL_CACHE_DIR"] = tempfile.mkdtemp()  # a cold start, whatever is cached already
    from core.data import default_data_path, load_dataset
    from core.data.counts import label_counts
    from core.results import write_result

    data = args.data or default_data_path()
    t0 = time.perf_counter()
    counts = label_counts(data)
    counting = time.perf_counter() - t0
    t0 = time.perf_counter()
    ds = load_dataset(data)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    load_dataset(data)
    warm = time.perf_counter() - t0
    n = sum(ds.sizes().values())
    assert counts is None or counts["sizes"] == ds.sizes()
    print(f"{data}: {n} images {ds.sizes()}")
    print(f"counts from the labels:          {counting:6.2f} s")
    print(f"cold load (parse + build cache): {cold:6.2f} s")
    print(f"cached load:                     {warm:6.2f} s")
    print(f"ratio cold / cached: {cold / warm:.0f}x")
    figures = {"data": Path(data).name, "images": n, "sizes": ds.sizes(), "cold_parse_s": round(cold, 2),
               "cached_load_s": round(warm, 2)}
    if counts is not None:
        figures["label_counts_s"] = round(counting, 2)
    print(write_result("data-load", figures, command="python bench/data_load.py"
                       + (f" --data {args.data}" if args.data else "")))


if __name__ == "__main__":
    main()
