"""FER+'s crowd labels: ten annotators' votes for every face of FER2013 (Microsoft, MIT licence; Barsoum et al.,
"Training Deep Networks for Facial Expression Recognition with Crowd-Sourced Label Distribution", ICMI 2016).

Two layouts are read:
- Kaggle's `fer2013.csv` with Microsoft's `fer2013new.csv` beside it (`Usage,Image name,neutral,happiness,...,
  contempt,unknown,NF`), joined row by row. A join is checked before it is used (the same Usage on every row, and
  FER2013's own label agreeing with the votes' plurality on at least MIN_AGREEMENT of the faces: aligned files
  agree on about 64%, a copy in another row order on about 18%, chance).
- The folders Microsoft's `generate_training_data.py` writes: `FER2013Train/`, `FER2013Valid/`, `FER2013Test/`,
  each with `ferNNNNNNN.png` faces and a `label.csv` naming them with their votes.

Votes are kept in our column order (`VOTE_NAMES`: FERPLUS_CLASSES, then unknown and not-a-face), and become
targets the four ways of the paper (`vote_targets`), with the faces each way discards dropped as Microsoft's
`src/ferplus.py` drops them. Validation and test always use the official majority protocol.
"""
from __future__ import annotations

import csv
import gzip
import io
import os
from pathlib import Path

import numpy as np

from ..labels import EMOTIONS, FERPLUS_CLASSES, LABEL_MODES
from .errors import DataError

# Microsoft's columns, in its file's order, and the same votes in ours
MS_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF")
VOTE_NAMES = FERPLUS_CLASSES + ("unknown", "not a face")
_MS_TO_OURS = {"neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad",
               "anger": "angry", "disgust": "disgust", "fear": "fear", "contempt": "contempt", "unknown": "unknown",
               "NF": "not a face"}
# column j of our votes is column _ORDER[j] of Microsoft's
_ORDER = np.array([MS_COLUMNS.index(next(k for k, v in _MS_TO_OURS.items() if v == name)) for name in VOTE_NAMES])
N_EMOTIONS = len(FERPLUS_CLASSES)  # votes past these are unknown / not a face
MIN_AGREEMENT = 0.40
SPLIT_OF_USAGE = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
FOLDERS = {"train": "FER2013Train", "val": "FER2013Valid", "test": "FER2013Test"}
VOTES_FILE_NAMES = ("fer2013new.csv", "fer2013new.csv.gz")


def _open_text(path: Path) -> str:
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
                return f.read()
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, EOFError) as e:
        raise DataError(f"{path}: cannot read ({e})") from e


def _votes_row(path: Path, line: int, cells) -> list[int]:
    try:
        row = [int(float(c)) for c in cells]
    except ValueError:
        raise DataError(f"{path}: line {line}: the ten vote counts must be whole numbers, not {list(cells)}") from None
    if len(row) != len(MS_COLUMNS) or min(row) < 0:
        raise DataError(f"{path}: line {line}: expected {len(MS_COLUMNS)} vote counts (>= 0: "
                        f"{', '.join(MS_COLUMNS)}), got {list(cells)}")
    return row


def read_votes(path) -> dict:
    """Microsoft's fer2013new.csv (plain or .gz): {"usage": (N,) split names, "names": (N,) FER+ file names ("" for
    the faces its annotators found not to be faces), "votes": (N, 10) uint8 in VOTE_NAMES order}."""
    path = Path(path)
    rows = list(csv.reader(io.StringIO(_open_text(path))))
    if not rows:
        raise DataError(f"{path}: empty")
    header = [c.strip() for c in rows[0]]
    if header[:2] != ["Usage", "Image name"] or tuple(header[2:12]) != MS_COLUMNS:
        raise DataError(f"{path}: not FER+'s fer2013new.csv (its header is "
                        f"Usage,Image name,{','.join(MS_COLUMNS)}; this one starts {','.join(header[:4])})")
    usage, names, votes = [], [], []
    for i, row in enumerate(rows[1:]):
        if not row:
            continue
        if row[0].strip() not in SPLIT_OF_USAGE:
            raise DataError(f"{path}: line {i + 2}: Usage {row[0]!r} is not one of {list(SPLIT_OF_USAGE)}")
        usage.append(SPLIT_OF_USAGE[row[0].strip()])
        names.append(row[1].strip())
        votes.append(_votes_row(path, i + 2, row[2:12]))
    if not votes:
        raise DataError(f"{path}: no rows")
    v = np.asarray(votes, dtype=np.int64)[:, _ORDER]
    return {"usage": np.array(usage), "names": np.array(names), "votes": np.clip(v, 0, 255).astype(np.uint8)}


def find_votes(data_path, given: str | os.PathLike | None = None) -> Path | None:
    """FER+'s votes for the FER2013 CSV at `data_path`: `given` if set, else $FERPLUS_PATH, else a fer2013new.csv(.gz)
    beside the CSV, in a `ferplus/` folder next to its folder (../shared's layout), or in the project's data/."""
    from ..settings import ferplus_candidates

    if given:
        return Path(given).expanduser()
    data_path = Path(data_path)
    here = [data_path.parent / n for n in VOTES_FILE_NAMES] + \
           [data_path.parent.parent / "ferplus" / n for n in VOTES_FILE_NAMES]
    candidates = ferplus_candidates()
    if os.environ.get("FERPLUS_PATH", "").strip():
        return candidates[0]
    return next((p for p in here + candidates if p.is_file()), None)


def plurality(votes: np.ndarray) -> np.ndarray:
    """The most voted of the ten columns per face (ties: the first), in VOTE_NAMES order."""
    return np.asarray(votes).argmax(1)


def check_alignment(fer_labels: np.ndarray, fer_split: np.ndarray, votes: dict, fer_path, votes_path) -> dict:
    """That row i of FER2013 and row i of the votes are the same face: as many rows, the same Usage on every row,
    and FER2013's label agreeing with the votes' plurality on at least MIN_AGREEMENT of the faces whose plurality
    is one of FER2013's seven emotions. DataError otherwise, with the figures; else {"agreement", "faces"}."""
    n, m = len(fer_labels), len(votes["votes"])
    if n != m:
        raise DataError(f"{fer_path} has {n:,} faces but {votes_path} has votes for {m:,}: FER+'s votes are for "
                        "Kaggle's original fer2013.csv (35,887 rows), row by row")
    differ = np.flatnonzero(np.asarray(fer_split) != votes["usage"])
    if len(differ):
        i = int(differ[0])
        raise DataError(f"{fer_path} and {votes_path} disagree on the split of {len(differ):,} rows (first: line "
                        f"{i + 2}, {fer_split[i]} vs {votes['usage'][i]}): they are not the same faces in the same order")
    top = plurality(votes["votes"])
    shared = top < len(EMOTIONS)  # a plurality among FER2013's seven (not contempt, unknown or not a face)
    agreement = float((top[shared] == np.asarray(fer_labels)[shared]).mean()) if shared.any() else 0.0
    if agreement < MIN_AGREEMENT:
        raise DataError(f"{fer_path} and {votes_path} are not aligned: FER2013's label agrees with the plurality of "
                        f"the ten votes on {agreement:.0%} of {int(shared.sum()):,} faces (row by row, Kaggle's own "
                        f"fer2013.csv agrees on about 64%; chance is about 18%). Their rows are in different orders: "
                        "use the fer2013.csv FER+'s votes were made for (Kaggle's, in its own row order)")
    return {"agreement": agreement, "faces": int(shared.sum())}


def vote_targets(votes: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(targets (N, 8) float, kept (N,) bool) from vote counts in VOTE_NAMES order, as Microsoft's `_process_data`
    makes them: emotions with a single vote are dropped (outliers); then
    - majority: the top emotion, kept only if it has more than half of the remaining votes;
    - probability / crossentropy: the top emotions (ties together) until they hold 75% of the votes, at most
      three, kept if they hold more than half; their share of the votes;
    - multi_target: every emotion with at least 30% of the votes, kept if together more than half.
    A face whose target would be unknown or not-a-face is not kept; targets are renormalised over the eight
    emotions (probability draws one label from them each time a face is seen; multi_target counts any of them)."""
    if mode not in LABEL_MODES:
        raise ValueError(f"unknown label mode {mode!r}; use one of {', '.join(LABEL_MODES)}")
    raw = np.asarray(votes, dtype=np.float64).copy()
    raw[raw < 1.0 + 1e-9] = 0.0
    total = raw.sum(1)
    n, size = raw.shape
    out = np.zeros_like(raw)
    valid = np.zeros(n, dtype=bool)
    if mode == "majority":
        top = raw.argmax(1)
        best = raw[np.arange(n), top]
        valid = best > 0.5 * total
        out[np.flatnonzero(valid), top[valid]] = best[valid]
    elif mode == "multi_target":
        keep = raw >= 0.3 * total[:, None]
        out = np.where(keep, raw, 0.0)
        valid = out.sum(1) > 0.5 * total
    else:
        for i in range(n):
            out[i], valid[i] = _top_emotions(raw[i].copy(), total[i])
    valid &= total > 0
    valid &= out.argmax(1) < N_EMOTIONS  # unknown or not-a-face as the answer: the face is dropped
    targets = out[:, :N_EMOTIONS]
    sums = targets.sum(1, keepdims=True)
    valid &= sums[:, 0] > 0
    targets = np.divide(targets, sums, out=np.zeros_like(targets), where=sums > 0)
    return targets.astype(np.float32), valid


def _top_emotions(row: np.ndarray, total: float) -> tuple[np.ndarray, bool]:
    """One face of the probability / crossentropy modes (Microsoft's loop, ties taken together)."""
    emotion = np.zeros_like(row)
    part, count, ok = 0.0, 0, True
    while part < 0.75 * total and count < 3 and ok:
        best = row.max()
        for i in range(len(row)):
            if row[i] == best:
                emotion[i], row[i] = best, 0.0
                part += emotion[i]
                count += 1
                if i >= N_EMOTIONS:  # unknown or not-a-face among the top
                    ok = False
                    if emotion.sum() > best:  # other emotions came first: leave it out
                        emotion[i] = 0.0
                        count -= 1
                    break
    if emotion.sum() <= 0.5 * total or count > 3:
        return np.zeros_like(row), False
    return emotion, True


def describe_votes(votes, top: int = 3) -> str:
    """A face's votes in words, most first: "6 neutral, 3 sad, 1 angry"."""
    v = np.asarray(votes, dtype=np.int64)
    order = [int(i) for i in np.argsort(-v, kind="stable") if v[i] > 0][:top]
    return ", ".join(f"{int(v[i])} {VOTE_NAMES[i]}" for i in order) or "no votes"


def top_share(votes: np.ndarray) -> np.ndarray:
    """Per face, the share of its emotion votes that its most voted emotion got (0 without an emotion vote): 1 when
    everyone agreed, 0.5 or less when people were split."""
    v = np.asarray(votes, dtype=np.float64)[:, :N_EMOTIONS]
    totals = v.sum(1)
    return np.divide(v.max(1), totals, out=np.zeros(len(v)), where=totals > 0)


def people_split(votes: np.ndarray) -> np.ndarray:
    """Faces people disagreed on: no emotion got more than half of the emotion votes."""
    return top_share(votes) <= 0.5


def differs_from_people(votes: np.ndarray, fer_labels: np.ndarray) -> np.ndarray:
    """Faces whose FER2013 label is not the people's most voted emotion (ties: any of the top ones counts)."""
    v = np.asarray(votes, dtype=np.int64)[:, :N_EMOTIONS]
    top = v.max(1, keepdims=True)
    labels = np.asarray(fer_labels, dtype=np.int64)
    return (top[:, 0] > 0) & (v[np.arange(len(v)), labels] < top[:, 0])


def human_agreement(votes: np.ndarray, answers: np.ndarray) -> float:
    """The mean share of a face's emotion votes (the eight emotions; unknown and not-a-face left out) that agree
    with `answers` (indices into FERPLUS_CLASSES): how many of the people would have said what the model said.
    Faces without any emotion vote are left out."""
    v = np.asarray(votes, dtype=np.float64)[:, :N_EMOTIONS]
    a = np.asarray(answers, dtype=np.int64)
    totals = v.sum(1)
    voted = totals > 0
    if not voted.any():
        return float("nan")
    ok = voted & (a >= 0) & (a < N_EMOTIONS)
    share = np.zeros(len(v))
    share[ok] = v[np.flatnonzero(ok), a[ok]] / totals[ok]
    return float(share[voted].mean())


def agreement_references(votes: np.ndarray) -> dict:
    """What human_agreement can be compared with, on the same faces: `plurality`, the agreement of always answering
    each face's most voted emotion (the best any answer can do), and `one_annotator`, how often one person's vote
    agrees with the plurality of the others' (leave-one-out; a tie among the others counts as a share)."""
    v = np.asarray(votes, dtype=np.int64)[:, :N_EMOTIONS]
    v = v[v.sum(1) > 0]
    ceiling = human_agreement(np.pad(v, ((0, 0), (0, 2))), v.argmax(1)) if len(v) else float("nan")
    agree = total = 0.0
    for row in v:
        for j in np.flatnonzero(row):
            others = row.copy()
            others[j] -= 1
            winners = np.flatnonzero(others == others.max())
            agree += row[j] * (j in winners) / len(winners)
            total += row[j]
    return {"faces": int(len(v)), "plurality": ceiling, "one_annotator": agree / total if total else float("nan")}


# ---------------------------------------------------------------- Microsoft's image folders

def is_ferplus_folder(path) -> bool:
    """Whether `path` holds the folders generate_training_data.py writes (FER2013Train/label.csv at least)."""
    path = Path(path)
    return path.is_dir() and (path / FOLDERS["train"] / "label.csv").is_file()


def _read_label_csv(folder: Path, image_size: int):
    import cv2

    label = folder / "label.csv"
    names, votes = [], []
    for i, row in enumerate(csv.reader(io.StringIO(_open_text(label)))):
        if not row or not row[0].strip():
            continue
        cells = row[1:]
        if cells and cells[0].strip().startswith("("):  # the copy in Microsoft's repository keeps a face box
            cells = cells[1:]
        names.append(row[0].strip())
        votes.append(_votes_row(label, i + 1, cells[:10]))
    if not names:
        raise DataError(f"{label}: no faces listed")
    images = np.empty((len(names), image_size, image_size), dtype=np.uint8)
    for i, name in enumerate(names):
        f = folder / name
        data = np.fromfile(str(f), dtype=np.uint8) if f.is_file() else np.empty(0, np.uint8)
        img = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
        if img is None:
            raise DataError(f"{f}: missing or not an image (named in {label})")
        if img.shape != (image_size, image_size):
            img = cv2.resize(img, (image_size, image_size), interpolation=cv2.INTER_AREA
                             if min(img.shape) > image_size else cv2.INTER_LINEAR)
        images[i] = img
    return images, np.asarray(votes, dtype=np.int64)[:, _ORDER].clip(0, 255).astype(np.uint8)


def load_ferplus_folder_arrays(root: Path, image_size, val_fraction, seed):
    """The three folders as arrays: {split}_x, {split}_votes, and {split}_y the votes' plurality among the eight
    emotions (these folders carry no FER2013 label)."""
    out = {"classes": np.array(FERPLUS_CLASSES)}
    for split, name in FOLDERS.items():
        folder = Path(root) / name
        if not (folder / "label.csv").is_file():
            raise DataError(f"{root}: {name}/label.csv is missing (Microsoft's generate_training_data.py writes "
                            f"{', '.join(FOLDERS.values())}, each with its label.csv)")
        x, v = _read_label_csv(folder, image_size)
        out[f"{split}_x"], out[f"{split}_votes"] = x, v
        out[f"{split}_y"] = v[:, :N_EMOTIONS].argmax(1).astype(np.int64)
    return out
