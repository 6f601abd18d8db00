"""The seed project's two custom CNNs, rebuilt with BatchNorm so they train reliably."""
from torch import nn

from .registry import register_model
from .layers import classifier, conv_bn


@register_model
def model48(num_classes=7, in_chans=1, width=32, dropout=0.3):
    """Compact CNN for 48x48 faces: three conv blocks and a small head."""
    w = width
    return nn.Sequential(
        conv_bn(in_chans, w), conv_bn(w, w), nn.MaxPool2d(2),            # 24
        conv_bn(w, 2 * w), conv_bn(2 * w, 2 * w), nn.MaxPool2d(2),       # 12
        conv_bn(2 * w, 4 * w), conv_bn(4 * w, 4 * w), nn.MaxPool2d(2),  # 6
        classifier(4 * w, num_classes, hidden=4 * w, dropout=dropout),
    )


@register_model
def ourmodel(num_classes=7, in_chans=1, width=32, dropout=0.4, input_size=48):
    """Our custom CNN: four conv blocks with 5x5 first filters and a dense head."""
    w = width
    return nn.Sequential(
        conv_bn(in_chans, w, k=5), nn.MaxPool2d(2),                      # 24
        conv_bn(w, 2 * w), conv_bn(2 * w, 2 * w), nn.MaxPool2d(2),       # 12
        conv_bn(2 * w, 4 * w), conv_bn(4 * w, 4 * w), nn.MaxPool2d(2),   # 6
        conv_bn(4 * w, 8 * w), nn.MaxPool2d(2),                          # 3
        nn.Flatten(), nn.Dropout(dropout), nn.Linear(8 * w * (input_size // 16) ** 2, 8 * w), nn.ReLU(inplace=True),
        nn.Dropout(dropout), nn.Linear(8 * w, num_classes),
    )
