"""Layer 5, prediction: everything between a picture and what the models say about each face in it.

- `base` (the Predictor interface), `cnn` (our checkpoints), `stress` (stress from emotions), `deepface`
  (DeepFace behind the same interface, TensorFlow imported only when used), `summary` (a face's top
  class, confidence and stress verdict, computed once for every caller);
- `catalogue`, `choice`, `loading`: which checkpoints exist, which a page starts on, loaded once;
- `boxes`, `detectors` (a registry of face detectors), `crops` (the one crop path, with alignment),
  `tracking`, `frame` (what happens to a frame: detect, track, crop, predict, smooth, draw), `draw`,
  `analysis` (one picture, many models), `photo` (its answer face by face, summarised once), `saliency` (Grad-CAM).

Imports layers 0-4 (settings, labels, data, models, evaluate, runs); never train, jobs or workflows.
"""
from .analysis import Analysis, ModelOutput, analyse, run_predictor
from .base import TTA_MODES, Predictor
from .boxes import Face
from .catalogue import ModelInfo, discover_models, model_accuracy, model_info, resolve_model
from .choice import WEBCAM_ACCURACY_BAR, best_model, compare_models, webcam_model
from .cnn import CNNPredictor, StressPredictor, set_inference_threads
from .crops import crop_faces, preprocess
from .detectors import DetectorError, create_detector, list_detectors
from .loading import DEEPFACE, clear_caches, load_predictor
from .photo import FaceResult, ModelAnswer, PhotoResult, analyse_crops, analyse_photo, photo_result
from .stress import StressFromEmotion, p_stress, stress_verdict
from .summary import face_summary

__all__ = ["Analysis", "CNNPredictor", "DEEPFACE", "DetectorError", "Face", "FaceResult", "ModelAnswer", "ModelInfo",
           "ModelOutput", "PhotoResult", "Predictor", "StressFromEmotion", "StressPredictor", "TTA_MODES",
           "WEBCAM_ACCURACY_BAR", "analyse", "analyse_crops", "analyse_photo", "best_model",
           "clear_caches", "compare_models", "create_detector", "crop_faces", "discover_models", "face_summary",
           "list_detectors", "load_predictor", "model_accuracy", "model_info", "p_stress", "preprocess",
           "photo_result", "resolve_model", "run_predictor", "set_inference_threads", "stress_verdict",
           "webcam_model"]
