"""Layer 2, models: models by name, as timm does it: `create_model("resnet", num_classes=7, width=32)`, one file
per family (custom, resnet, vgg, xception), the checkpoint format (checkpoint), a checkpoint's description
(meta: CheckpointMeta) and int8 models (int8).
Imports only torch and layer 0.

Every model maps (N, in_chans, 48, 48) float to (N, num_classes) logits. Architectures register
themselves with `@register_model`; the registry keeps their one-line description for the app.
"""
from .registry import count_parameters, create_model, describe, list_models, model_defaults, register_model
from . import custom, resnet, vgg, xception  # noqa: E402,F401  (registers the models)

__all__ = ["count_parameters", "create_model", "describe", "list_models", "model_defaults", "register_model"]
