"""PyTorch networks exported by torch.onnx.export, for tests/onnx_test.cpp.

For each network: NAME.onnx (torch.onnx.export, opset 13, eval mode), NAME_input.npy and
NAME_logits.npy (PyTorch's own output for that input). weft imports the ONNX file, runs it on the
input and compares its logits with PyTorch's. The networks hold what the issue asks weft to
import: grouped and pointwise convolutions, a channel shuffle written the usual way (view,
transpose, view), batch norm with non-trivial statistics, residual additions, max, padded average
and global average pooling and a linear classifier.

usage: onnx_torch_models.py OUT_DIR
"""
import sys

import numpy as np
import torch
from torch import nn


def channel_shuffle(x, groups):
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).contiguous().view(n, c, h, w)


class IgcBlock(nn.Module):
    """Primary 3x3 group conv (L partitions), shuffle, secondary 1x1 group conv (M), BN, residual."""

    def __init__(self, channels, primary_groups, secondary_groups):
        super().__init__()
        self.primary = nn.Conv2d(channels, channels, 3, padding=1, groups=primary_groups, bias=False)
        self.secondary = nn.Conv2d(channels, channels, 1, groups=secondary_groups, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.primary_groups = primary_groups
        self.secondary_groups = secondary_groups

    def forward(self, x):
        y = self.primary(x)
        y = channel_shuffle(y, self.primary_groups)
        y = self.secondary(y)
        y = channel_shuffle(y, self.secondary_groups)
        return torch.relu(self.bn(y) + x)


class IgcNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.blocks = nn.Sequential(IgcBlock(16, 8, 2), IgcBlock(16, 4, 4))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNetLike(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 5, stride=1, padding=2, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.MaxPool2d(3, stride=2, padding=1))
        self.layer1 = BasicBlock(8, 8, 1)
        self.layer2 = BasicBlock(8, 16, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 7)

    def forward(self, x):
        x = self.layer2(self.layer1(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


class Pools(nn.Module):
    """Padded average pooling that divides by the real elements (weft's rule), max pooling."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, groups=3, bias=True)
        self.avg = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.max = nn.MaxPool2d(2)
        self.fc = nn.Linear(6 * 3 * 3, 5)  # 16 -> 14 (conv) -> 7 (avg) -> 3 (max)

    def forward(self, x):
        return self.fc(torch.flatten(self.max(torch.relu(self.avg(self.conv(x)))), 1))


def randomise_batch_norm(model, generator):
    # Fresh statistics are 0 and 1, which would hide a swapped mean and variance.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=generator) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=generator) * 0.1)


def main(out_dir):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    for name, model in (("igc", IgcNet()), ("resnet", ResNetLike()), ("pools", Pools())):
        randomise_batch_norm(model, generator)
        model.eval()
        x = torch.randn(2, 3, 16, 16, generator=generator)
        with torch.no_grad():
            logits = model(x)
        torch.onnx.export(model, x, f"{out_dir}/{name}.onnx", opset_version=13, input_names=["images"],
                          output_names=["logits"])
        np.save(f"{out_dir}/{name}_input.npy", x.numpy())
        np.save(f"{out_dir}/{name}_logits.npy", logits.numpy())


if __name__ == "__main__":
    main(sys.argv[1])
