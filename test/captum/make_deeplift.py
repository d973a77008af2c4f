"""DeepLift and DeepLiftShap fixtures made by Captum 0.8's own code (test/attribution/deeplift.test.ts reads them).

Run: PYTHONPATH=/work/captum-src /usr/bin/python3 test/captum/make_deeplift.py
Writes test/captum/deeplift/{cnn,mlp}.onnx and fixture.json: inputs, baselines, targets, Captum's attributions and
deltas (computed in float64), and Captum's own float32-vs-float64 relative L2 difference per case (the test's
tolerance is the larger of 1e-4 and three times it).

Captum is called one input at a time: its softmax rule subtracts a mean over the whole batch it is given (gradlens takes
it over the input's own (input, reference) pair, so an input's map does not depend on its neighbours); the two agree
for one input. For the same reason the MLP's DeepLiftShap is Captum's DeepLift averaged over the baselines, one
baseline at a time; the CNN (no softmax) goes through Captum's DeepLiftShap itself.

The CNN's ReLU and MaxPool are kept apart by a Clone module. Since Captum 0.6, two hooked modules that share a tensor
(ReLU straight into MaxPool) lose the downstream multiplier: the ReLU's captured grad_output is taken before the
MaxPool's tensor hook rewrites it, so the ReLU rescales MaxPool's ordinary gradient and completeness fails (Captum
issue #1104, open; 0.5.0 was right). With a module between them Captum computes DeepLift's chain rule, which gradlens
computes whatever the layout. 'deeplift-tensor-adjacent' records Captum 0.8 on the adjacent layout, for the test to
show that its delta is not zero.
"""
import json
import os

import numpy as np
import torch
from torch import nn
from captum.attr import DeepLift, DeepLiftShap

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'deeplift')


class Clone(nn.Module):
    """A new tensor between two hooked modules (exported as ONNX Identity, which gradlens reads as a view)."""

    def forward(self, x):
        return x.clone()


def cnn(separated=True):
    layers = [nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), Clone(), nn.MaxPool2d(2, 2),
              nn.Conv2d(4, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(48, 5)]
    return nn.Sequential(*(layer for layer in layers if separated or not isinstance(layer, Clone)))


def mlp():
    return nn.Sequential(nn.Linear(6, 10), nn.Sigmoid(), nn.Linear(10, 8), nn.Tanh(), nn.Linear(8, 4), nn.Softmax(dim=1))


def rel_l2(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def deeplift(model, inputs, baselines, targets, dtype):
    """Captum DeepLift, one input at a time: (attributions, deltas)."""
    model = model.to(dtype)
    attributions, deltas = [], []
    for x, b, t in zip(inputs, baselines, targets):
        x = torch.tensor(x[None], dtype=dtype, requires_grad=True)
        b = torch.tensor(b[None], dtype=dtype)
        a, d = DeepLift(model).attribute(x, baselines=b, target=int(t), return_convergence_delta=True)
        attributions.append(a.detach().numpy()[0])
        deltas.append(float(d.detach().numpy()[0]))
    return np.stack(attributions), np.array(deltas)


def deeplift_shap(model, inputs, baseline_set, targets, dtype, through_shap):
    """Captum DeepLiftShap per input (or DeepLift averaged over the set, see above): attributions."""
    model = model.to(dtype)
    out = []
    for x, t in zip(inputs, targets):
        if through_shap:
            xt = torch.tensor(x[None], dtype=dtype, requires_grad=True)
            a = DeepLiftShap(model).attribute(xt, baselines=torch.tensor(baseline_set, dtype=dtype), target=int(t))
            out.append(a.detach().numpy()[0])
        else:
            each = [deeplift(model, x[None], b[None], [t], dtype)[0][0] for b in baseline_set]
            out.append(np.mean(each, axis=0))
    return np.stack(out)


def main():
    os.makedirs(HERE, exist_ok=True)
    rng = np.random.default_rng(2024)
    fixture = {'captum': '0.8.0', 'eps': 1e-10, 'models': {}}
    for name, make, shape, through_shap in [('cnn', cnn, (2, 8, 8), True), ('mlp', mlp, (6,), False)]:
        torch.manual_seed(7)
        model = make().eval()
        torch.onnx.export(
            model, torch.zeros((1, *shape)), os.path.join(HERE, f'{name}.onnx'), opset_version=17,
            input_names=['input'], output_names=['output'], dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}},
        )
        count = 3
        inputs = rng.normal(0, 1.5, (count, *shape)).astype(np.float32)
        targets = [1, 3, 0]
        baselines = {'zeros': np.zeros_like(inputs), 'tensor': rng.normal(0, 0.5, inputs.shape).astype(np.float32)}
        baseline_set = rng.normal(0, 0.5, (4, *shape)).astype(np.float32)
        entry = {'shape': list(shape), 'inputs': inputs.ravel().tolist(), 'targets': targets, 'cases': {}}
        for label, base in baselines.items():
            a64, d64 = deeplift(model, inputs, base, targets, torch.float64)
            a32, _ = deeplift(model, inputs, base, targets, torch.float32)
            entry['cases'][f'deeplift-{label}'] = {
                'baselines': base.ravel().tolist(), 'attribution': a64.ravel().tolist(), 'delta': d64.tolist(),
                'f32_vs_f64': rel_l2(a32, a64),
            }
        if name == 'cnn':
            torch.manual_seed(7)
            adjacent = cnn(separated=False).eval()
            adjacent.load_state_dict({k: v for k, v in zip(adjacent.state_dict(), model.float().state_dict().values())})
            a64, d64 = deeplift(adjacent, inputs, baselines['tensor'], targets, torch.float64)
            entry['cases']['deeplift-tensor-adjacent'] = {
                'baselines': baselines['tensor'].ravel().tolist(), 'attribution': a64.ravel().tolist(), 'delta': d64.tolist(),
                'f32_vs_f64': 0.0, 'captum': 'DeepLift on ReLU straight into MaxPool (Captum issue #1104)',
            }
        s64 = deeplift_shap(model, inputs, baseline_set, targets, torch.float64, through_shap)
        s32 = deeplift_shap(model, inputs, baseline_set, targets, torch.float32, through_shap)
        entry['cases']['deeplift-shap'] = {
            'baselines': baseline_set.ravel().tolist(), 'attribution': s64.ravel().tolist(), 'f32_vs_f64': rel_l2(s32, s64),
            'captum': 'DeepLiftShap' if through_shap else 'DeepLift averaged over the baselines',
        }
        fixture['models'][name] = entry
    with open(os.path.join(HERE, 'fixture.json'), 'w') as f:
        json.dump(fixture, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
