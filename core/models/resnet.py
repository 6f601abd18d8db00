"""ResNet-18 for 48x48 input: a 3x3 stem without max-pool keeps the small faces' detail."""
from torch import nn

from .registry import register_model
from .layers import classifier


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, blocks=(2, 2, 2, 2), num_classes=7, in_chans=1, width=64, dropout=0.2):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_chans, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU(inplace=True))
        stages, cin = [], width
        for i, n in enumerate(blocks):
            cout = width * 2 ** i
            for j in range(n):
                stages.append(BasicBlock(cin, cout, 2 if (j == 0 and i > 0) else 1))
                cin = cout
        self.stages = nn.Sequential(*stages)
        self.head = classifier(cin, num_classes, dropout=dropout)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))


@register_model
def resnet(num_classes=7, in_chans=1, width=64, dropout=0.2):
    """ResNet-18 (2-2-2-2 basic blocks), 3x3 stem, no max-pool; width scales all stages."""
    return ResNet((2, 2, 2, 2), num_classes, in_chans, width, dropout)
