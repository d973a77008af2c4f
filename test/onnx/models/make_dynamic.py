#!/usr/bin/python3
"""ONNX fixtures with dynamic axes for test/onnx/dynamic.test.ts: PyTorch exports with dynamic_axes on the batch and
on height/width or sequence length, so the shape sub-graph (Shape -> Gather -> Unsqueeze -> Concat -> Reshape, Resize
sizes) depends on the input size. The test checks them against onnxruntime at several sizes; nothing else is stored.

Run: /usr/bin/python3 test/onnx/models/make_dynamic.py  (needs: apt-get install python3-torch python3-onnx)
"""
import os

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)


class ConvNet(torch.nn.Module):
    """Fully convolutional, for images of any size: conv, BN, ReLU, pool, a 2x upsampling to a size computed from the
    input's (Resize sizes from Shape), x.view(n, c, -1).mean(-1) (a Reshape target from Shape), a linear head."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.conv2 = torch.nn.Conv2d(8, 12, 3, stride=2, padding=1)
        self.fc = torch.nn.Linear(12, 5)

    def forward(self, x):
        y = F.max_pool2d(F.relu(self.bn(self.conv1(x))), 2)
        y = F.interpolate(y, size=(y.shape[2] * 2, y.shape[3] * 2), mode='nearest')
        y = F.relu(self.conv2(y))
        return self.fc(y.view(y.shape[0], y.shape[1], -1).mean(-1))


class Attention(torch.nn.Module):
    """One self-attention block over a sequence of any length: LayerNorm, heads split and merged with view() on the
    input's own sizes, scaled softmax(QK^T)V, a mean over the tokens and a linear head."""

    def __init__(self, dim=16, heads=2):
        super().__init__()
        self.heads = heads
        self.norm = torch.nn.LayerNorm(dim)
        self.q = torch.nn.Linear(dim, dim)
        self.k = torch.nn.Linear(dim, dim)
        self.v = torch.nn.Linear(dim, dim)
        self.proj = torch.nn.Linear(dim, dim)
        self.head = torch.nn.Linear(dim, 4)

    def forward(self, x):
        b, n, d = x.shape
        z = self.norm(x)
        split = lambda t: t.reshape(b, n, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.q(z)), split(self.k(z)), split(self.v(z))
        attention = torch.softmax(q @ k.transpose(-1, -2) / (d // self.heads) ** 0.5, dim=-1)
        y = (attention @ v).transpose(1, 2).reshape(b, n, d)
        return self.head((x + self.proj(y)).mean(1))


class FixedHead(torch.nn.Module):
    """A conv then Flatten and Linear: exported with free height and width, but only 8x8 inputs fit the Linear."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4 * 8 * 8, 3)

    def forward(self, x):
        return self.fc(torch.flatten(F.relu(self.conv(x)), 1))


def export(model, example, axes, name, opset, folder=HERE):
    model.eval()
    for module in model.modules():  # BatchNorm statistics that are not the identity
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    path = os.path.join(folder, f'{name}_opset{opset}.onnx')
    torch.onnx.export(model, example, path, opset_version=opset, input_names=['x'], output_names=['y'],
                      dynamic_axes={'x': axes, 'y': {0: 'batch'}})
    print(path, os.path.getsize(path), 'bytes')


if __name__ == '__main__':
    for opset in (13, 17):
        torch.manual_seed(1)
        export(ConvNet(), torch.randn(1, 3, 20, 24), {0: 'batch', 2: 'height', 3: 'width'}, 'dynamic_convnet', opset)
        torch.manual_seed(2)
        export(Attention(), torch.randn(1, 7, 16), {0: 'batch', 1: 'length'}, 'dynamic_attention', opset)
    torch.manual_seed(3)
    # Apart from the models every test loads as they are: this one loads only with the size it needs.
    export(FixedHead(), torch.randn(1, 3, 8, 8), {0: 'batch', 2: 'height', 3: 'width'}, 'fixed_head', 13, os.path.join(HERE, 'needs-size'))
