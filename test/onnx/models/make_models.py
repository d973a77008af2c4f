#!/usr/bin/python3
"""Small ONNX fixtures for test/onnx/loader.test.ts, exported by PyTorch, with an input and PyTorch's output for it.

Run: /usr/bin/python3 test/onnx/models/make_models.py  (needs: apt-get install python3-torch python3-onnx)
Each model <name>.onnx comes with <name>.input.pb (a batch of 3) and <name>.output.pb (PyTorch's output for it),
serialized TensorProtos. Models are exported at batch 1 (or with a symbolic batch) and checked at batch 3, so a
baked-in batch size would show.
"""
import io
import os

import numpy as np
import onnx
import torch
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)


class CnnView(torch.nn.Module):
    """Conv, ReLU, BatchNorm (after the ReLU, so it stays a node), MaxPool, then x.view(x.size(0), -1): with a
    symbolic batch the Shape → Gather → Unsqueeze → Concat → Reshape chain; exported at a fixed batch 1 the
    target [1, -1] instead."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.fc = torch.nn.Linear(4 * 3 * 3, 5)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 1.5)

    def forward(self, x):
        y = torch.nn.functional.max_pool2d(self.bn(torch.relu(self.conv(x))), 2)
        return self.fc(y.view(y.size(0), -1))


class Transformerish(torch.nn.Module):
    """Linear, GELU (erf), LayerNorm, a reshape by x.shape[0], Softmax over the last axis, and back to 2-D."""

    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(6, 8)
        self.ln = torch.nn.LayerNorm(8)
        self.fc2 = torch.nn.Linear(8, 8)
        with torch.no_grad():
            self.ln.weight.uniform_(0.5, 1.5)
            self.ln.bias.uniform_(-0.5, 0.5)

    def forward(self, x):
        h = self.ln(torch.nn.functional.gelu(self.fc1(x)))
        h = self.fc2(h).reshape(x.shape[0], 2, 4)
        return torch.softmax(h, dim=-1).reshape(x.shape[0], -1)


class Upsample(torch.nn.Module):
    """Nearest 2× upsampling (Resize with sizes from shape arithmetic at opset 11), then a conv and a mean."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3)

    def forward(self, x):
        y = torch.nn.functional.interpolate(x, scale_factor=2.0, mode='nearest')
        return self.conv(y).mean(dim=(2, 3))


class Padded(torch.nn.Module):
    """AvgPool2d(padding=1) (a Pad then an AveragePool), F.pad (its pads from shape arithmetic) then a Conv."""

    def __init__(self):
        super().__init__()
        self.pool = torch.nn.AvgPool2d(3, stride=2, padding=1)
        self.conv = torch.nn.Conv2d(2, 3, 3)

    def forward(self, x):
        y = self.conv(torch.nn.functional.pad(self.pool(x), (1, 1, 2, 0)))
        return y.flatten(1)


def export(name, module, shape, opset, dynamic):
    module.eval()
    buffer = io.BytesIO()
    kwargs = {'dynamic_axes': {'x': {0: 'batch'}, 'y': {0: 'batch'}}} if dynamic else {}
    torch.onnx.export(module, torch.randn(1, *shape), buffer, opset_version=opset, input_names=['x'], output_names=['y'], **kwargs)
    with open(os.path.join(HERE, f'{name}.onnx'), 'wb') as f:
        f.write(buffer.getvalue())
    x = torch.randn(3, *shape)
    with torch.no_grad():
        y = module(x)
    for suffix, tensor in (('input', x), ('output', y)):
        with open(os.path.join(HERE, f'{name}.{suffix}.pb'), 'wb') as f:
            f.write(numpy_helper.from_array(tensor.numpy().astype(np.float32), suffix).SerializeToString())
    print(name, [n.op_type for n in onnx.load_from_string(buffer.getvalue()).graph.node])


if __name__ == '__main__':
    cnn = CnnView()
    export('cnn_view_opset11', cnn, (2, 6, 6), 11, dynamic=False)
    export('cnn_view_opset13', cnn, (2, 6, 6), 13, dynamic=True)
    transformerish = Transformerish()
    export('transformerish_opset11', transformerish, (6,), 11, dynamic=True)
    export('transformerish_opset14', transformerish, (6,), 14, dynamic=True)
    export('transformerish_opset17', transformerish, (6,), 17, dynamic=True)
    export('upsample_opset11', Upsample(), (2, 4, 4), 11, dynamic=True)
    export('padded_opset13', Padded(), (2, 7, 7), 13, dynamic=True)
