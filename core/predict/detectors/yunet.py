"""YuNet (libfacedetection, Shiqi Yu et al., 2023): a 75k-parameter CNN face detector with five landmarks,
run by OpenCV's FaceDetectorYN from its ONNX file (yunet_onnx.py: where the file is, how it is checked). Why it
is the default: on our detection benchmark (bench/detection.py) it finds about three times as many faces as Haar,
tilted ones too, in less time per frame, and its landmarks let `crop_faces(..., align=True)` turn tilted faces upright.

YuNet's landmarks barely follow a tilt on small faces (a face 80 px wide turned by 20 degrees gives an eye
line of about 3 degrees), so each face's landmarks are measured again, twice, on a 192 px view of it turned
upright by the last estimate. The frame is prepared as every detector with landmarks prepares it
(core.predict.detectors.frames.detection_frame).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from ...data.images import channel_order
from ..boxes import Face, box_of, suppress_duplicates
from ..crops import eye_angle
from .base import DetectorBase, clip_face
from .frames import detection_frame
from .registry import register_detector
from .yunet_onnx import yunet_network, yunet_problem

YUNET_MAX_SIDE = 960   # libfacedetection warns above this, and YuNet is trained on smaller frames
# YuNet's landmarks follow a face's tilt only where the face is big (~60-75% of a 20 degree tilt at 170 px,
# ~15% at 80 px): they are measured again on a REFINE_SIZE view of each face, turned upright, the face
# REFINE_FACE of its width
REFINE_SIZE = 192
REFINE_FACE = 0.9
# A tracked face is looked for again on a FOLLOW_SIZE view around where it was, the face FOLLOW_FACE of its
# width: room to move by half a face between detections (as far as the tracker's IoU still matches it), and a
# sixth to an eighth of the pixels a whole-frame search looks at with the Webcam page's settings
FOLLOW_SIZE = 128
FOLLOW_FACE = 0.5


def _apply(m, x: float, y: float) -> tuple[float, float]:
    """A 2x3 affine map applied to one point."""
    return (float(m[0, 0] * x + m[0, 1] * y + m[0, 2]), float(m[1, 0] * x + m[1, 1] * y + m[1, 2]))


@register_detector("yunet")
class YuNetDetector(DetectorBase):
    """YuNet (libfacedetection, 2023): faces with five landmarks, upright or tilted, fast on a CPU.

    min_size: the smallest face, as a fraction of the image's short side (smaller boxes are dropped).
    detect_width: frames wider than this (or taller than twice it) are downscaled for detection; boxes
    come back in the frame's own pixels. YuNet also never searches a copy over 960 px, and when `min_size`
    allows it searches a smaller one, on which the smallest wanted face is still `min_face_px` wide.
    conf_threshold: YuNet's confidence (0..1) a face needs. 0.3, not the 0.5 of libfacedetection's examples: on our
    detection set (bench/detection.py) it finds 7 points more faces, tilted ones most, with fewer false
    positives per canvas than Haar, and no extra box on the sample photos even at 0.2.
    refine: how many times each face's landmarks are measured again on a 192 px view of it, turned upright
    by the last estimate (YuNet's landmarks follow a tilt only on big faces: 2 passes bring the eye line of
    a tilted photo to within about 2 degrees); mirror: average each pass with the view's mirror image
    (less jitter on upright faces, twice the cost). threads: OpenCV threads for one call (1 is fastest when
    the CPU is shared). It reads YuNet's ONNX file (FEL_YUNET_MODEL, else model/detectors/): a file that is
    refused is named, with the reason, by `unavailable_reason`.
    """
    can_follow = True
    can_refine = True

    def __init__(self, min_size: float = 0.08, detect_width: int = 480, conf_threshold: float = 0.3,
                 min_face_px: int = 28, threads: int = 1, refine: int = 2, mirror: bool = False):
        super().__init__(min_size, detect_width)
        if not 0.0 <= float(conf_threshold) < 1.0:
            raise ValueError(f"conf_threshold must be in [0, 1), got {conf_threshold}")
        self._network = yunet_network()  # RuntimeError naming the refused file: the registry makes it a DetectorError
        self.conf_threshold = float(conf_threshold)
        self.min_face_px = max(10, int(min_face_px))
        self.threads = max(1, int(threads))
        self.refine = max(0, int(refine))
        self.mirror = bool(mirror)

    @staticmethod
    def unavailable_reason() -> str | None:
        return yunet_problem()

    def __repr__(self) -> str:
        return (f"YuNetDetector(min_size={self.min_size}, detect_width={self.detect_width}, "
                f"conf_threshold={self.conf_threshold}, min_face_px={self.min_face_px}, threads={self.threads}, "
                f"refine={self.refine}, mirror={self.mirror})")

    def detect(self, image: np.ndarray, color: str = "rgb", refine: int | None = None) -> list[Face]:
        """Faces in `image` (HxW grey, HxWx1, HxWx3 RGB/BGR per `color`, or HxWx4), sorted left to right.
        `refine` overrides the detector's passes of landmark refinement (0: YuNet's own landmarks; the frame
        pipeline refines each track once in a while instead, with `refine_landmarks`)."""
        shape = np.shape(image)
        if len(shape) < 2 or shape[0] < 2 or shape[1] < 2:
            return []
        prepared = detection_frame(image, color, *self._search_limits(min(shape[0], shape[1])))
        if prepared is None:
            return []
        small, scale, H, W = prepared
        if min(small.shape[:2]) < 16:  # below YuNet's smallest anchor: nothing it could find
            return []
        min_px = self.min_size * min(H, W)
        inv = 1.0 / scale
        faces = []
        for c, (x, y, w, h), pts in self._run(small, self.conf_threshold):
            points = [((px + 0.5) * inv - 0.5, (py + 0.5) * inv - 0.5) for px, py in pts]
            face = clip_face(x * inv, y * inv, (x + w) * inv, (y + h) * inv, c, points, H, W, min_px)
            if face is not None:
                faces.append(face)
        faces = suppress_duplicates(faces)
        passes = self.refine if refine is None else max(0, int(refine))
        if passes:
            faces = [self._refined(image, color, f, passes) for f in faces]
        return sorted(faces, key=lambda f: (f.x, f.y))

    def _search_limits(self, short: int) -> tuple[int, int, float]:
        """(widest, tallest, largest scale) of the copy a whole-frame search looks at, for a frame whose short
        side is `short`: the smallest wanted face still `min_face_px` wide on it."""
        cap = self.min_face_px / (self.min_size * short) if self.min_size > 0 else 1.0
        return min(self.detect_width, YUNET_MAX_SIDE), min(2 * self.detect_width, YUNET_MAX_SIDE), cap

    def _run(self, bgr: np.ndarray, threshold: float) -> list:
        """YuNet on a BGR uint8 copy: [(score 0..1, (x, y, w, h), ((x, y) * 5))] in the copy's pixels."""
        return self._network.run(np.ascontiguousarray(bgr), threshold, self.threads)

    def refine_landmarks(self, image, face, color: str = "rgb") -> Face:
        """One face (a Face, or anything with a box and landmarks) with its landmarks measured again, as
        `detect` does with `refine` passes: what the frame pipeline calls for a track now and then."""
        if not isinstance(face, Face):
            x, y, w, h = (int(v) for v in face.box)
            face = Face(x, y, w, h, float(getattr(face, "score", 1.0)), getattr(face, "landmarks", None))
        return self._refined(image, color, face, max(1, self.refine))

    def _refined(self, image, color: str, face: Face, passes: int) -> Face:
        """The face with landmarks measured again on an upright, well-sized view of it (see REFINE_SIZE)."""
        marks = face.landmarks
        for _ in range(passes):
            found = self._landmarks_upright(image, color, face, marks)
            if found is None:
                break
            marks = found
        if marks is face.landmarks:
            return face
        x0, y0, x1, y1 = face.x, face.y, face.x + face.w, face.y + face.h
        marks = tuple((int(round(min(max(px, x0), x1 - 1))), int(round(min(max(py, y0), y1 - 1))))
                      for px, py in marks)
        return Face(face.x, face.y, face.w, face.h, face.score, marks)

    def _landmarks_upright(self, image, color: str, face: Face, marks):
        """Landmarks (frame pixels, floats) from YuNet on a REFINE_SIZE square view of the face, rotated by
        the eye line of `marks` so the face is nearly upright; None if YuNet does not find it there."""
        cut = self._upright_view(image, color, face, eye_angle(marks) or 0.0, REFINE_SIZE, REFINE_FACE)
        if cut is None:
            return None
        view, back = cut
        pts = self._central(view)
        if pts is None:
            return None
        if self.mirror:  # the mirror image's landmarks, mirrored back: YuNet's lean to one side cancels
            flipped = self._central(np.ascontiguousarray(view[:, ::-1]))
            if flipped is not None:
                back_x = [(REFINE_SIZE - 1 - x, y) for x, y in flipped]
                twin = [back_x[1], back_x[0], back_x[2], back_x[4], back_x[3]]  # sides swap in a mirror
                pts = [((a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0) for a, b in zip(pts, twin)]
        return tuple(_apply(back, px, py) for px, py in pts)

    def follow_at_most(self, image) -> int:
        """How many faces `follow` finds in less time than a full search of `image` (YuNet's time goes with
        the pixels it searches: a follow view against the copy a full search makes)."""
        shape = np.shape(image)
        if len(shape) < 2 or min(shape[:2]) < 2:
            return 0
        H, W = shape[:2]
        max_w, max_h, cap = self._search_limits(min(H, W))
        scale = min(1.0, cap, max_w / W, max_h / H)  # as detection_frame scales the frame down
        return int(scale * W * scale * H // (FOLLOW_SIZE * FOLLOW_SIZE))

    def follow(self, image, face, color: str = "rgb", angle: float | None = None) -> Face | None:
        """The face a track last saw at `face` (a Face, or anything with a box), found again near there: YuNet
        on a FOLLOW_SIZE view around it, turned upright by `angle` (the track's tilt; else its landmarks'),
        instead of on the whole frame. About a sixth of a full search's time, and a tilted face is searched
        upright. None if it is not there any more, or smaller than `min_size`. Boxes and landmarks come back
        in frame pixels."""
        x, y, w, h = (int(v) for v in box_of(face))
        if w < 1 or h < 1:
            return None
        if angle is None:
            angle = eye_angle(getattr(face, "landmarks", None)) or 0.0
        arr = np.asarray(image)
        if arr.ndim < 2 or arr.shape[0] < 2 or arr.shape[1] < 2:
            return None
        cut = self._upright_view(arr, color, Face(x, y, w, h), float(angle), FOLLOW_SIZE, FOLLOW_FACE, fast=True)
        if cut is None:
            return None
        view, back = cut
        expected = FOLLOW_FACE * FOLLOW_SIZE
        centre = FOLLOW_SIZE / 2.0
        best = None
        for c, (bx, by, bw, bh), pts in self._run(view, self.conf_threshold):
            d = math.hypot(bx + bw / 2.0 - centre, by + bh / 2.0 - centre)
            if d < 0.3 * FOLLOW_SIZE and 0.5 * expected < max(bw, bh) < 1.8 * expected and \
                    (best is None or (d, -c) < best[0]):
                best = ((d, -c), c, (bx, by, bw, bh), pts)
        if best is None:
            return None
        _, c, (bx, by, bw, bh), pts = best
        H, W = arr.shape[:2]
        k = math.hypot(back[0, 0], back[1, 0])  # view pixels -> frame pixels
        cx, cy = _apply(back, bx + bw / 2.0 - 0.5, by + bh / 2.0 - 0.5)  # box edges -> pixel centres, and back
        cx, cy = cx + 0.5, cy + 0.5
        points = [_apply(back, px, py) for px, py in pts]
        return clip_face(cx - bw * k / 2.0, cy - bh * k / 2.0, cx + bw * k / 2.0, cy + bh * k / 2.0, c,
                         points, H, W, self.min_size * min(H, W))

    def _upright_view(self, image, color: str, face: Face, angle: float, size: int, share: float,
                      fast: bool = False):
        """(a size x size BGR view of the face, turned by `angle` so it stands upright and scaled so the face
        is `share` of its width, the affine map from view back to frame pixels), or None. `fast` (follow):
        a colour uint8 frame shrunk by 2x at most is warped in one step, without the area-resized copy of the
        region the landmark refinement samples from."""
        side = float(max(face.w, face.h))
        cx, cy = face.x + face.w / 2.0, face.y + face.h / 2.0
        arr, color = channel_order(image, color)
        H, W = arr.shape[:2]
        zoom = share * size / side
        colour = arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3 and arr.flags.c_contiguous
        if fast and colour and zoom >= 0.5:  # what a webcam gives: one warp from the frame
            to_view = cv2.getRotationMatrix2D((cx, cy), angle, zoom)
            to_view[:, 2] += (size / 2.0 - cx, size / 2.0 - cy)
            view = cv2.warpAffine(arr, to_view, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            return (np.ascontiguousarray(view[:, :, ::-1]) if color == "rgb" else view), \
                cv2.invertAffineTransform(to_view)
        half = 0.85 * side / share  # room for the rotated corners of the view
        x0, y0 = max(0, int(math.floor(cx - half))), max(0, int(math.floor(cy - half)))
        x1, y1 = min(W, int(math.ceil(cx + half))), min(H, int(math.ceil(cy + half)))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        prepared = detection_frame(arr[y0:y1, x0:x1], color, 2 * size, 2 * size)
        if prepared is None:
            return None
        roi = prepared[0]
        kx, ky = roi.shape[1] / (x1 - x0), roi.shape[0] / (y1 - y0)
        to_view = cv2.getRotationMatrix2D((cx, cy), angle, zoom)  # frame -> view
        to_view[:, 2] += (size / 2.0 - cx, size / 2.0 - cy)
        from_roi = np.array([[1.0 / kx, 0.0, x0], [0.0, 1.0 / ky, y0], [0.0, 0.0, 1.0]])
        view = cv2.warpAffine(roi, to_view @ from_roi, (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        return view, cv2.invertAffineTransform(to_view)

    def _central(self, view: np.ndarray):
        """The landmarks of the face YuNet finds in the middle of a refinement view, or None."""
        centre = REFINE_SIZE / 2.0
        best = None
        for _c, (x, y, w, h), pts in self._run(view, 0.3):
            d = math.hypot(x + w / 2.0 - centre, y + h / 2.0 - centre)
            if d < 0.25 * REFINE_SIZE and max(w, h) > 0.4 * REFINE_SIZE and (best is None or d < best[0]):
                best = (d, pts)
        return None if best is None else best[1]

