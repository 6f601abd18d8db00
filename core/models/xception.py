"""Real-time CPU networks built from depthwise-separable convolutions (mini-Xception, Arriaga et al. 2017)."""
from torch import nn

from .registry import register_model
from .layers import conv_bn


def sep_conv(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False),
                         nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))


class XceptionBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.residual = nn.Sequential(nn.Conv2d(cin, cout, 1, 2, bias=False), nn.BatchNorm2d(cout))
        self.body = nn.Sequential(sep_conv(cin, cout), nn.ReLU(inplace=True), sep_conv(cout, cout),
                                  nn.MaxPool2d(3, 2, 1))

    def forward(self, x):
        return self.body(x) + self.residual(x)


@register_model
def mini_xception(num_classes=7, in_chans=1, width=16, dropout=0.1):
    """mini-Xception: depthwise-separable residual blocks, global pooling; tiny and fast on CPU."""
    w = width
    blocks = [XceptionBlock(w // 2 if i == 0 else w * 2 ** (i - 1), w * 2 ** i) for i in range(4)]
    return nn.Sequential(
        conv_bn(in_chans, w // 2), conv_bn(w // 2, w // 2),
        *blocks,                                         # 48 -> 24 -> 12 -> 6 -> 3
        nn.Dropout(dropout), nn.Conv2d(w * 8, num_classes, 3, padding=1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    )
