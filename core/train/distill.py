"""Knowledge distillation (Hinton et al., 2015): a small, fast student also learns a trained teacher's
soft answers on the same augmented batch. The usual way to bring a real-time model close to an
accurate one: the teacher's probabilities say which wrong answers are nearly right. A teacher may be
several checkpoints ("a,b"): their averaged probabilities teach, an ensemble being more accurate than
any of its members."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..config import teacher_sources
from ..evaluate import tta_views
from ..labels import canonical
from ..models.checkpoint import load_model
from ..predict.catalogue import resolve_model


class Teacher:
    """A trained checkpoint (path, file in model/, run id or model name), frozen, on the student's device."""

    def __init__(self, source: str, classes, input_size: int, device="cpu", grey: str = "none"):
        self.path = resolve_model(source)
        model, meta = load_model(self.path)
        if [canonical(c) for c in meta.classes] != [canonical(c) for c in classes]:
            raise ValueError(f"teacher {self.path} predicts {list(meta.classes)}, but this run learns "
                             f"{list(classes)}: pick a teacher trained on the same classes")
        if meta.grey != grey:  # it sees the student's batches: they must be the faces it knows
            raise ValueError(f"teacher {self.path} takes faces with grey levels '{meta.grey}', but this run's are "
                             f"'{grey}': train with --grey {meta.grey}, or pick a teacher of the same grey levels")
        self.input_size = meta.input_size  # the student's batches are cut or resized to it if they differ
        self.face_size = meta.face_size
        self.model = model.to(device).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.mean, self.std = meta.mean, meta.std
        self.name = f"{meta.model} from {self.path}"

    @torch.no_grad()
    def __call__(self, x01: torch.Tensor) -> torch.Tensor:
        """Logits for a batch in [0, 1], normalised the teacher's own way, at the teacher's input size: the
        centre crop of whole faces for a teacher trained on crops (as it is tested), else resized."""
        if x01.shape[-1] == self.face_size > self.input_size:
            x01 = tta_views(x01, None, self.input_size)[0]
        elif x01.shape[-1] != self.input_size:
            x01 = F.interpolate(x01, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False)
        return self.model((x01 - self.mean) / self.std)


def distill_loss(hard: torch.Tensor, student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                 weight: float, temperature: float) -> torch.Tensor:
    """(1 - weight) * the labels' loss + weight * T^2 * KL(teacher || student) at temperature T."""
    t = temperature
    soft = F.kl_div(F.log_softmax(student_logits / t, 1), F.log_softmax(teacher_logits / t, 1),
                    reduction="batchmean", log_target=True) * (t * t)
    return (1 - weight) * hard + weight * soft


class TeacherEnsemble:
    """Several teachers answering as one: the log of their averaged probabilities, used as logits (softmax
    gives the average back; a temperature softens it as it would one teacher's)."""

    def __init__(self, sources, classes, input_size: int, device="cpu", grey: str = "none"):
        self.members = [Teacher(s, classes, input_size, device, grey) for s in sources]
        self.name = " + ".join(m.name for m in self.members)

    @torch.no_grad()
    def __call__(self, x01: torch.Tensor) -> torch.Tensor:
        log_probs = torch.stack([F.log_softmax(m(x01).float(), 1) for m in self.members])
        return torch.logsumexp(log_probs, 0) - math.log(len(self.members))  # log of the mean, exactly


def make_teacher(teacher: str, classes, input_size: int, device="cpu", grey: str = "none"):
    """A Teacher for one checkpoint, a TeacherEnsemble for several (comma-separated), None for ""."""
    sources = teacher_sources(teacher)
    if not sources:
        return None
    if len(sources) == 1:
        return Teacher(sources[0], classes, input_size, device, grey)
    return TeacherEnsemble(sources, classes, input_size, device, grey)
