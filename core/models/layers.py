"""Small building blocks shared by the architectures."""
from torch import nn


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def classifier(cin: int, num_classes: int, hidden: int = 0, dropout: float = 0.0) -> nn.Sequential:
    """Global average pool, then an optional hidden layer, then logits."""
    layers = [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if hidden:
        layers += [nn.Dropout(dropout), nn.Linear(cin, hidden), nn.ReLU(inplace=True)]
        cin = hidden
    layers += [nn.Dropout(dropout), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)
