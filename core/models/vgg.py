"""VGG-style network with BatchNorm, after the FER2013 VGG of Khaireddin & Chen (2021)."""
from torch import nn

from .registry import register_model
from .layers import conv_bn


@register_model
def vgg(num_classes=7, in_chans=1, width=64, dropout=0.3, input_size=48):
    """VGG with BatchNorm: four stages of two 3x3 convs (width, 2w, 4w, 8w), dense head."""
    layers, cin = [], in_chans
    for mult in (1, 2, 4, 8):
        cout = width * mult
        layers += [conv_bn(cin, cout), conv_bn(cout, cout), nn.MaxPool2d(2)]
        cin = cout
    hidden = 8 * width
    side = input_size // 16  # four max-pools: 48 -> 3, 40 -> 2
    layers += [nn.Flatten(), nn.Dropout(dropout), nn.Linear(cin * side * side, hidden), nn.ReLU(inplace=True),
               nn.Dropout(dropout), nn.Linear(hidden, num_classes)]
    return nn.Sequential(*layers)
