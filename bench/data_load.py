"""FER2013 load time: a cold parse of the CSV and a load from the decoded-array cache.

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

    data = args.data or default_data_path()
    t0 = time.perf_counter()
    ds = load_dataset(data)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    load_dataset(data)
    warm = time.perf_counter() - t0
    n = sum(ds.sizes().values())
    print(f"{data}: {n} images {ds.sizes()}")
    print(f"cold load (parse + build cache): {cold:6.2f} s")
    print(f"cached load:                     {warm:6.2f} s")
    print(f"ratio cold / cached: {cold / warm:.0f}x")


if __name__ == "__main__":
    main()
