"""The Compare page's batch accuracy: the chosen models measured on labelled faces (FER2013's test split or a
zip of class folders the user uploads), side by side; every broken archive gets a sentence, not a traceback."""
from __future__ import annotations

import io
import os
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core.data import DataError, load_dataset
from core.evaluate import evaluate_predictor
from core.labels import STRESS_CLASSES, STRESS_EMOTIONS

from . import charts
from . import widgets as w


def dataset_from_zip(data: bytes, workdir: Path):
    """A labelled folder uploaded as a zip -> (images (N,1,48,48) uint8, labels, classes, description).
    The zip holds class folders (`happy/*.jpg`, ...), maybe under one top folder, or train/ and test/
    (then test/ is used). Raises ValueError with a clear message otherwise."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ValueError("That file is not a zip archive, or it is damaged. Zip a folder of class folders "
                         "(happy/, sad/, ...) and upload it again.") from None
    except (OSError, EOFError, ValueError) as e:
        raise ValueError(f"The zip cannot be read ({e}). Zip the folder again and upload it.") from None
    total = 0
    with zf:
        for info in zf.infolist():
            name = info.filename
            if name.startswith("/") or ".." in Path(name).parts:
                raise ValueError(f"The zip has an unsafe path ({name!r}); it was not extracted.")
            if info.flag_bits & 0x1:
                raise ValueError(f"The zip is password-protected ({name!r} is encrypted): zip the folder again "
                                 "without a password.")
            total += info.file_size
            if total > 2_000_000_000:
                raise ValueError("The zip unpacks to more than 2 GB; use a smaller sample.")
        members = [i for i in zf.infolist() if not i.filename.startswith("__MACOSX")]
        if not members:
            raise ValueError("The zip is empty.")
        try:
            zf.extractall(workdir, members=members)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError, OSError,
                ValueError) as e:  # a damaged member (bad CRC, truncated), an encryption or compression we lack
            raise ValueError(f"The zip is damaged or uses a format that cannot be unpacked here ({e}). Zip the "
                             "folder again (plain zip, no password) and upload it.") from None
    root = Path(workdir)
    for _ in range(3):  # descend through single top folders
        subdirs = [d for d in root.iterdir() if d.is_dir() and not d.name.startswith((".", "__"))]
        files = [f for f in root.iterdir() if f.is_file()]
        if len(subdirs) == 1 and not files:
            root = subdirs[0]
        else:
            break
    subdirs = [d for d in root.iterdir() if d.is_dir() and not d.name.startswith((".", "__"))]
    if not subdirs:
        raise ValueError("The zip has no class folders. Expected e.g. happy/001.jpg, sad/002.jpg, ...")
    try:
        ds = load_dataset(root, cache=False)
    except DataError as e:
        raise ValueError(f"The zip's folders cannot be used: {e}") from None
    import torch

    names = {d.name.lower() for d in subdirs}
    if "test" in names or "testing" in names:
        split = ds.splits["test"]
        images, labels, what = split.images, split.labels, "its test/ folder"
    else:
        images = torch.cat([s.images for s in ds.splits.values()])
        labels = torch.cat([s.labels for s in ds.splits.values()])
        what = "all its images"
    return images, labels, tuple(ds.classes), f"{len(labels)} images ({what}), classes {', '.join(ds.classes)}"


@st.cache_data(show_spinner=False, max_entries=4)
def zip_dataset(data: bytes):
    """`dataset_from_zip` once per uploaded file (reruns reuse it)."""
    import shutil

    work = temp_workdir()
    try:
        return dataset_from_zip(data, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def sample_split(ds, split: str, n: int, seed: int = 0):
    """A fixed random sample (sorted indices) of n faces of a split: (images, labels, classes)."""
    s = ds.splits[split]
    n = min(int(n), len(s))
    idx = np.sort(np.random.default_rng(seed).choice(len(s), size=n, replace=False))
    return s.images[idx], s.labels[idx], tuple(ds.classes)


def evaluate_all(predictors: list, images, labels, classes, progress_bar) -> list[dict]:
    """Each predictor on the labelled faces, with one progress bar over all of them."""
    results = []
    n = len(predictors)
    for k, p in enumerate(predictors):
        def prog(done, total, k=k, name=p.name):
            progress_bar.progress(min(1.0, (k + done / max(total, 1)) / n), text=f"{name}: {done}/{total} faces")

        t0 = time.perf_counter()
        try:
            r = evaluate_predictor(p, images, labels, classes, batch_size=128, progress=prog)
            r["seconds"] = time.perf_counter() - t0
            r["model"] = p.name
        except Exception as e:  # noqa: BLE001
            r = {"model": p.name, "error": w.friendly_error(e)}
        results.append(r)
    progress_bar.progress(1.0, text="done")
    return results


def task_heading(classes, folded: bool) -> str:
    """What a group of accuracies is out of, in words."""
    if list(classes) == list(STRESS_CLASSES):
        how = f" (the labels folded: {', '.join(sorted(STRESS_EMOTIONS))} = stress)" if folded else ""
        return f"Stress models: stress or no stress, 2 classes{how}; chance is 50%"
    return f"Emotion models: {len(classes)} classes; chance is {100 / max(len(classes), 1):.0f}%"


def result_groups(results: list[dict]) -> list[tuple[tuple, bool, list[dict]]]:
    """Results grouped by what they are out of: (classes, folded, results), emotion models first."""
    groups: dict = {}
    for r in results:
        groups.setdefault((tuple(r["classes"]), bool(r.get("folded"))), []).append(r)
    return sorted(((c, f, rs) for (c, f), rs in groups.items()), key=lambda g: list(g[0]) == list(STRESS_CLASSES))


def _accuracy_table(ok: list[dict], classes) -> None:
    table = pd.DataFrame([{
        "model": r["model"], "faces": r["n"], "accuracy": 100 * r["accuracy"], "macro F1": 100 * r["macro_f1"],
        "ms per face": 1000 * r.get("seconds", 0) / max(r["n"], 1),
        **{f"{pc['class']}": 100 * pc["recall"] for pc in r["per_class"]},
    } for r in ok])
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "accuracy": st.column_config.ProgressColumn(format="%.1f%%", min_value=0, max_value=100,
                                                    help=f"of {len(classes)} classes"),
        "macro F1": st.column_config.NumberColumn(format="%.1f%%"),
        "ms per face": st.column_config.NumberColumn(format="%.1f", help="the whole sample's time / its faces"),
        **{c: st.column_config.NumberColumn(format="%.0f%%", help=f"recall on {c}") for c in classes},
    })


def show_batch_results(results: list[dict], classes) -> None:
    ok = [r for r in results if not r.get("error")]
    for r in results:
        if r.get("error"):
            st.warning(f"**{r['model']}** could not be measured: {r['error']}")
    if not ok:
        return
    st.markdown("#### Measured accuracy")
    groups = result_groups(ok)
    for g_classes, folded, rs in groups:
        st.markdown(f"**{task_heading(g_classes, folded)}**")
        _accuracy_table(rs, g_classes)
    st.caption("Per-class columns are the share of that class's faces the model got right (recall). An emotion "
               "model's accuracy and a stress model's are out of different numbers of classes: compare each only "
               "with its own kind.")
    verdict = deepface_vs_ours(ok)
    if verdict:
        st.info(verdict, icon=":material/balance:")
    for g_classes, _, rs in groups:
        kind = "stress models" if list(g_classes) == list(STRESS_CLASSES) else "emotion models"
        st.plotly_chart(charts.per_class_chart({r["model"]: {pc["class"]: pc["recall"] for pc in r["per_class"]}
                                                for r in rs}, g_classes,
                                               title=f"Accuracy per class (recall), {kind}"),
                        width="stretch", key=f"batch-per-class-{len(g_classes)}")
    st.markdown("#### Confusion matrices")
    st.caption("Rows: the true class. Columns: what the model said. The diagonal is right; "
               "the rest shows which emotions get mixed up.")
    per_row = 2
    for start in range(0, len(ok), per_row):
        cols = st.columns(per_row)
        for c, r in zip(cols, ok[start:start + per_row]):
            c.plotly_chart(charts.confusion_heatmap(r["confusion"], r["classes"],
                                                    title=f"{r['model']} · {100 * r['accuracy']:.1f}%"),
                           width="stretch", key=f"cm-{start}-{r['model']}")


def deepface_vs_ours(results: list[dict]) -> str | None:
    """One sentence comparing DeepFace with the best of our emotion models (same classes as DeepFace's result),
    in accuracy points, if both were measured."""
    df = [r for r in results if str(r["model"]).startswith("DeepFace")]
    if not df:
        return None
    d = df[0]
    ours = [r for r in results if not str(r["model"]).startswith("DeepFace") and r["classes"] == d["classes"]]
    if not ours:
        return None
    best = max(ours, key=lambda r: r["accuracy"])
    diff = 100 * (best["accuracy"] - d["accuracy"])
    lead = "level with" if abs(diff) < 0.05 else f"{abs(diff):.1f} points {'ahead of' if diff > 0 else 'behind'}"
    return (f"On the same {d['n']} faces, our best model **{best['model']}** scores {100 * best['accuracy']:.1f}% "
            f"and DeepFace {100 * d['accuracy']:.1f}%: ours is {lead} DeepFace.")


def temp_workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="fel-zip-", dir=os.environ.get("TMPDIR")))
