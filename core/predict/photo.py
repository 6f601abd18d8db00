"""A photo's answer, face by face, computed once: each face's box, landmarks and crop, and every model's answer to
it (probabilities and the summary of core.predict.summary), numbered in reading order; DeepFace end to end
(its own detector) matched to our faces by overlap. The Compare page renders it, `python -m core predict`
prints it, its rows are the results table and the CSV: none of them recompute a summary or reorder faces."""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..labels import EMOTIONS, STRESS_EMOTIONS, canonical, is_stress_task
from .analysis import Analysis, ModelOutput, analyse, error_text, run_predictor
from .boxes import Face, box_of, iou
from .crops import FACE_MARGIN
from .summary import face_summary

DEEPFACE_E2E = "DeepFace (end to end)"
MATCH_IOU = 0.3  # a DeepFace face is one of ours when their boxes overlap this much


def expected_answer(truth: str | None, classes) -> str | None:
    """The answer a model should give for a face labelled `truth`: the label itself, or for a stress model the
    label folded to stress / no stress (core.labels.STRESS_EMOTIONS)."""
    if truth is None:
        return None
    if is_stress_task(classes):
        return "stress" if canonical(truth) in STRESS_EMOTIONS else "no_stress"
    return canonical(truth)


@dataclass(frozen=True)
class ModelAnswer:
    """One model's answer to one face: its probabilities and the words every page shows for them."""
    model: str
    classes: tuple
    probs: np.ndarray
    emotion: str
    confidence: float
    stress: str | None
    stress_confidence: float
    p_stress: float
    stress_reading: str | None
    latency_ms: float | None = None   # warm ms per face; None where it could not be measured warm
    box: tuple | None = None          # where this model saw the face, when it found the face itself (DeepFace e2e)

    @classmethod
    def of(cls, model: str, classes, probs, latency_ms: float | None = None, box=None) -> ModelAnswer:
        p = np.asarray(probs, dtype=np.float64).reshape(-1)
        return cls(model, tuple(classes), p, **face_summary(p, classes), latency_ms=latency_ms, box=box)

    @property
    def is_stress_model(self) -> bool:
        return is_stress_task(self.classes)

    def is_right(self, truth: str | None) -> bool | None:
        """Whether the answer is the true label (folded to stress for a stress model); None without a label."""
        expected = expected_answer(truth, self.classes)
        return None if expected is None else self.emotion == expected


@dataclass
class FaceResult:
    """One face and every model's answer to it, in the order the models were given."""
    number: int | str                 # 1, 2, ... in reading order; "D1", "D2", ... DeepFace's faces none of ours match
    box: tuple                        # (x, y, w, h) in the photo's pixels
    crop: np.ndarray | None           # (48, 48) uint8: what our models saw
    answers: list = field(default_factory=list)   # [ModelAnswer]
    score: float = 1.0
    landmarks: tuple | None = None
    truth: str | None = None          # the true label, for faces of a labelled set

    @property
    def emotion_answers(self) -> list:
        return [a for a in self.answers if not a.is_stress_model]

    @property
    def shared_classes(self) -> tuple:
        """The emotions every emotion model here can answer (a FER+ model's contempt is not among them beside a
        FER2013 model): what they are compared on."""
        answers = self.emotion_answers
        if not answers:
            return ()
        return tuple(c for c in answers[0].classes if all(c in a.classes for a in answers[1:]))

    @property
    def votes(self) -> Counter:
        """Emotion -> how many emotion models answered it (stress models do not vote), each answer taken among the
        classes all of them have: a model whose top class the others lack votes for its most likely shared one."""
        shared = self.shared_classes
        return Counter(shared_answer(a, shared) for a in self.emotion_answers)

    @property
    def agree(self) -> bool | None:
        """Whether the emotion models agree on this face; None when fewer than two answered."""
        return None if len(self.emotion_answers) < 2 else len(self.votes) == 1

    def rows(self, image: str | None = None) -> list[dict]:
        """One table row per answer: face, model, the summary, warm ms per face (NaN where not measured warm),
        the box and p_<class> per class; `image` and `true` where known."""
        out = []
        for a in self.answers:
            x, y, w, h = (int(v) for v in (a.box or self.box))
            row = {"face": self.number, "model": a.model, "emotion": a.emotion, "confidence": a.confidence,
                   "stress": a.stress, "stress_confidence": a.stress_confidence, "p_stress": a.p_stress,
                   "stress_reading": a.stress_reading,
                   "latency_ms": float("nan") if a.latency_ms is None else float(a.latency_ms),
                   "x": x, "y": y, "w": w, "h": h}
            row.update({f"p_{c}": float(v) for c, v in zip(a.classes, a.probs)})
            if image is not None:
                row["image"] = image
            if self.truth is not None:
                row["true"] = self.truth
            out.append(row)
        return out


@dataclass
class PhotoResult:
    """Every face of one photo (or of crops given directly) and how each model fared on the whole batch."""
    faces: list                                   # [FaceResult] in reading order
    models: list                                  # [ModelOutput] per model: its error, its time (probs not read)
    extra_faces: list = field(default_factory=list)   # [FaceResult] found only by DeepFace end to end
    detect_ms: float = 0.0

    @property
    def errors(self) -> list[tuple[str, str]]:
        return [(m.name, m.error) for m in self.models if m.error]

    def rows(self, image: str | None = None) -> list[dict]:
        return [r for f in self.faces + self.extra_faces for r in f.rows(image)]


def shared_answer(answer: ModelAnswer, shared) -> str:
    """A model's answer among the classes `shared` (its own answer when shared, else its most likely shared class)."""
    if answer.emotion in shared or not shared:
        return answer.emotion
    return max(shared, key=lambda c: answer.probs[answer.classes.index(c)])


def reading_order(faces: Sequence) -> list[int]:
    """Face indices as people read a photo: row by row (rows about a face high), left to right."""
    if len(faces) < 2:
        return list(range(len(faces)))
    boxes = [box_of(f) for f in faces]
    h = float(np.median([b[3] for b in boxes])) or 1.0
    return sorted(range(len(boxes)), key=lambda i: (round(boxes[i][1] / h), boxes[i][0]))


def photo_result(analysis: Analysis, truths: Sequence | None = None, ordered: bool = True) -> PhotoResult:
    """An Analysis (faces x models) turned face by face, each answer summarised once; faces in reading order
    unless `ordered` is False. `truths` are the true labels of the faces in the analysis's order."""
    order = reading_order(analysis.faces) if ordered else list(range(len(analysis.faces)))
    faces = []
    for number, i in enumerate(order, 1):
        f = analysis.faces[i]
        answers = [ModelAnswer.of(o.name, o.classes, o.probs[i], o.latency_ms if o.latency_warm else None)
                   for o in analysis.outputs if not o.error and o.probs is not None and i < len(o.probs)]
        faces.append(FaceResult(number, tuple(int(v) for v in box_of(f)), np.asarray(analysis.crops)[i], answers,
                                float(getattr(f, "score", 1.0)), getattr(f, "landmarks", None),
                                None if truths is None else truths[i]))
    models = [ModelOutput(o.name, o.classes, None, o.latency_ms, o.error, o.kind, o.source, o.latency_warm)
              for o in analysis.outputs]
    return PhotoResult(faces, models, [], analysis.detect_ms)


def analyse_photo(image: np.ndarray, predictors: Sequence, detector=None, color: str = "rgb",
                  margin: float = FACE_MARGIN, align: bool = True, deepface_e2e=None) -> PhotoResult:
    """Detect, crop and ask every predictor once (core.predict.analysis), then DeepFace end to end if given."""
    result = photo_result(analyse(image, predictors, detector, color=color, margin=margin, align=align))
    if deepface_e2e is not None:
        add_deepface_e2e(result, deepface_e2e, image, color)
    return result


def analyse_crops(crops, predictors: Sequence, truths: Sequence | None = None) -> PhotoResult:
    """Faces given directly (48x48 grey crops of a data set): no detection, the given order kept."""
    crops = np.asarray(crops)
    faces = [Face(0, 0, int(c.shape[1]), int(c.shape[0]), 1.0) for c in crops]
    return photo_result(Analysis(faces, crops, [run_predictor(p, crops) for p in predictors]), truths, ordered=False)


def add_deepface_e2e(result: PhotoResult, predictor, image: np.ndarray, color: str = "rgb") -> None:
    """DeepFace with its own detector on the whole photo: each face it finds that overlaps one of ours adds an
    answer to that face; the others are extra faces D1, D2, ... Its time is one cold call with its own
    detector, shown as unmeasured (never beside the others' warm per-face figures). A failure is its error."""
    t0 = time.perf_counter()
    try:
        found = predictor.analyse(image, color=color)
    except Exception as e:  # noqa: BLE001 - DeepFace failing must not lose our models' answers
        result.models.append(ModelOutput(DEEPFACE_E2E, EMOTIONS, None, 0.0, error_text(e), source="deepface"))
        return
    found = [d for d in found if not d.get("whole_image")]  # DeepFace found no face and took the whole picture
    ms = (time.perf_counter() - t0) * 1000 / max(len(found), 1)
    used = set()
    for d in found:
        box = tuple(int(v) for v in d["box"])
        answer = ModelAnswer.of(DEEPFACE_E2E, EMOTIONS, d["probs"], None, box)
        best = max(((iou(box, f.box), i) for i, f in enumerate(result.faces) if i not in used), default=(0.0, -1))
        if best[0] >= MATCH_IOU:
            used.add(best[1])
            result.faces[best[1]].answers.append(answer)
        else:
            number = f"D{len(result.extra_faces) + 1}"
            result.extra_faces.append(FaceResult(number, box, None, [answer], float(d.get("confidence", 1.0))))
    result.models.append(ModelOutput(DEEPFACE_E2E, EMOTIONS, None, ms, None, source="deepface"))
