#!/usr/bin/python3
"""Captum's own answers for gradlens's layer and neuron methods (Captum's Layer* and Neuron* classes), in the fixture
format of test/captum/make_fixtures.py (whose Case, run and manifest code this reuses), so test/captum/captum.test.ts
checks them with the rest.

Run from the repository root, with Captum 0.8.0's source and Debian's torch 1.13:

    PYTHONPATH=/path/to/captum /usr/bin/python3 test/captum/make_layers.py

Two small models are made here (seeded), exported to ONNX beside their fixtures, and explained by Captum in float64 and
float32 (the tolerance is max(1e-4, 3 × Captum's own float32 error)):
  layers-cnn  conv1 → relu1 → conv2, add(conv2, relu1) → relu2 → max pool → linear, on 2 × 8 × 8: relu1 has two
              readers, so attribute_to_layer_input on conv2 (conv2's read of relu1 alone) differs from relu1's output
  layers-mlp  linear → relu → linear → tanh → linear, on 12 features
gradlens names a layer by its ONNX node or tensor: torch's exporter names module m's node "/m/<Op>" and its output
"/m/<Op>_output_0"; the manifest says which.
"""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from captum.attr import (
    InternalInfluence,
    LayerConductance,
    LayerGradCam,
    LayerGradientXActivation,
    LayerIntegratedGradients,
    NeuronGradient,
    NeuronIntegratedGradients,
)

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location('captum_fixtures', ROOT / 'test' / 'captum' / 'make_fixtures.py')
fixtures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fixtures)
Case = fixtures.Case


class ResidualCnn(nn.Module):
    input_shape = (2, 8, 8)

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        skip = self.relu1(self.conv1(x))
        return self.fc(self.flatten(self.pool(self.relu2(self.conv2(skip) + skip))))


class Mlp(nn.Module):
    input_shape = (12,)

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(12, 16)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(16, 16)
        self.tanh = nn.Tanh()
        self.fc3 = nn.Linear(16, 5)

    def forward(self, x):
        return self.fc3(self.tanh(self.fc2(self.relu(self.fc1(x)))))


def exported(net, folder):
    """The model's ONNX file (opset 17, dynamic batch), written into its fixture folder; its path from the root."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / 'model.onnx'
    torch.onnx.export(net, torch.zeros((1, *net.input_shape)), str(path), opset_version=17, input_names=['input'],
                      output_names=['logits'], dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
    return str(path.relative_to(ROOT))


def layer_cases(module, node, tensor, baseline, neuron, relu_cam):
    """Every layer and neuron method at `module` (gradlens: the ONNX node `node` or its output `tensor`)."""
    name = f'model.{module}'
    grab = lambda m: m.get_submodule(module)
    cases = []
    for layer, to_input in [(node, False), (tensor, False), (node, True)]:
        options = {'layer': layer, **({'attributeToLayerInput': True} if to_input else {})}
        flag = ', attribute_to_layer_input=True' if to_input else ''
        label = f'{module}{" input" if to_input else ""} as "{layer}"'
        cases += [
            Case(f'LayerGradientXActivation at {label}', {'method': 'layer-gradient-x-activation', **options},
                 f'LayerGradientXActivation(model, {name}).attribute(x, t{flag})',
                 lambda m, x, t, _, i=to_input: LayerGradientXActivation(m, grab(m)).attribute(x, t, attribute_to_layer_input=i),
                 layer_shaped=True),
            Case(f'LayerIntegratedGradients at {label}, baseline {baseline}, 16 steps',
                 {'method': 'layer-integrated-gradients', **options, 'steps': 16, 'baseline': {'constant': baseline}},
                 f'LayerIntegratedGradients(model, {name}).attribute(x, {baseline}, t, n_steps=16{flag}, return_convergence_delta=True)',
                 lambda m, x, t, _, i=to_input: LayerIntegratedGradients(m, grab(m)).attribute(
                     x, baseline, t, n_steps=16, attribute_to_layer_input=i, return_convergence_delta=True), layer_shaped=True),
        ]
    cases += [
        Case(f'LayerIntegratedGradients at {module}, defaults (zero baseline, gausslegendre, 50 steps)',
             {'method': 'layer-integrated-gradients', 'layer': node},
             f'LayerIntegratedGradients(model, {name}).attribute(x, target=t, return_convergence_delta=True)',
             lambda m, x, t, _: LayerIntegratedGradients(m, grab(m)).attribute(x, target=t, return_convergence_delta=True), layer_shaped=True),
        Case(f'LayerIntegratedGradients at {module}, riemann_trapezoid 20 steps',
             {'method': 'layer-integrated-gradients', 'layer': node, 'steps': 20, 'rule': 'riemann_trapezoid'},
             f"LayerIntegratedGradients(model, {name}).attribute(x, target=t, n_steps=20, method='riemann_trapezoid')",
             lambda m, x, t, _: LayerIntegratedGradients(m, grab(m)).attribute(x, target=t, n_steps=20, method='riemann_trapezoid'),
             layer_shaped=True),
        Case(f'InternalInfluence at {module}, baseline {baseline}, 16 steps',
             {'method': 'internal-influence', 'layer': node, 'steps': 16, 'baseline': {'constant': baseline}},
             f'InternalInfluence(model, {name}).attribute(x, {baseline}, t, n_steps=16)',
             lambda m, x, t, _: InternalInfluence(m, grab(m)).attribute(x, baseline, t, n_steps=16), layer_shaped=True),
        Case(f'InternalInfluence at {module} input, riemann_middle 12 steps',
             {'method': 'internal-influence', 'layer': node, 'attributeToLayerInput': True, 'steps': 12, 'rule': 'riemann_middle'},
             f"InternalInfluence(model, {name}).attribute(x, target=t, n_steps=12, method='riemann_middle', attribute_to_layer_input=True)",
             lambda m, x, t, _: InternalInfluence(m, grab(m)).attribute(
                 x, target=t, n_steps=12, method='riemann_middle', attribute_to_layer_input=True), layer_shaped=True),
        Case(f'LayerConductance at {module}, baseline {baseline}, 16 steps',
             {'method': 'layer-conductance', 'layer': node, 'steps': 16, 'baseline': {'constant': baseline}},
             f'LayerConductance(model, {name}).attribute(x, {baseline}, t, n_steps=16, return_convergence_delta=True)',
             lambda m, x, t, _: LayerConductance(m, grab(m)).attribute(x, baseline, t, n_steps=16, return_convergence_delta=True),
             layer_shaped=True),
        Case(f'LayerConductance at {module} input, riemann_trapezoid 12 steps',
             {'method': 'layer-conductance', 'layer': node, 'attributeToLayerInput': True, 'steps': 12, 'rule': 'riemann_trapezoid'},
             f"LayerConductance(model, {name}).attribute(x, target=t, n_steps=12, method='riemann_trapezoid', attribute_to_layer_input=True)",
             lambda m, x, t, _: LayerConductance(m, grab(m)).attribute(
                 x, target=t, n_steps=12, method='riemann_trapezoid', attribute_to_layer_input=True), layer_shaped=True),
        Case(f'NeuronGradient at {module} {tuple(neuron)}', {'method': 'neuron-gradient', 'layer': node, 'neuron': neuron},
             f'NeuronGradient(model, {name}).attribute(x, {tuple(neuron)})',
             lambda m, x, t, _: NeuronGradient(m, grab(m)).attribute(x, tuple(neuron))),
        Case(f'NeuronIntegratedGradients at {module} {tuple(neuron)}, baseline {baseline}, 16 steps',
             {'method': 'neuron-integrated-gradients', 'layer': node, 'neuron': neuron, 'steps': 16, 'baseline': {'constant': baseline}},
             f'NeuronIntegratedGradients(model, {name}).attribute(x, {tuple(neuron)}, {baseline}, n_steps=16)',
             lambda m, x, t, _: NeuronIntegratedGradients(m, grab(m)).attribute(x, tuple(neuron), baseline, n_steps=16)),
        Case(f'NeuronGradient at {module} input {tuple(neuron)}',
             {'method': 'neuron-gradient', 'layer': node, 'neuron': neuron, 'attributeToLayerInput': True},
             f'NeuronGradient(model, {name}).attribute(x, {tuple(neuron)}, attribute_to_neuron_input=True)',
             lambda m, x, t, _: NeuronGradient(m, grab(m)).attribute(x, tuple(neuron), attribute_to_neuron_input=True)),
    ]
    for relu in relu_cam:
        cases.append(Case(f'LayerGradCam at {module}, relu_attributions={relu}', {'method': 'layer-grad-cam', 'layer': node, 'relu': relu},
                          f'LayerGradCam(model, {name}).attribute(x, t, relu_attributions={relu})',
                          lambda m, x, t, _, r=relu: LayerGradCam(m, grab(m)).attribute(x, t, relu_attributions=r), layer_shaped=True))
    return cases


def main():
    torch.manual_seed(31)
    data = np.random.default_rng(32)
    out = fixtures.OUT

    cnn = ResidualCnn().eval()
    path = exported(cnn, out / 'layers-cnn')
    x = data.normal(0, 1, (2, *cnn.input_shape)).astype(np.float32)
    cases = layer_cases('conv2', '/conv2/Conv', '/conv2/Conv_output_0', 0.1, [1, 2, 5], [False, True])
    cases += layer_cases('relu2', '/relu2/Relu', '/relu2/Relu_output_0', -0.2, [3, 4, 0], [False, True])[-2:]
    fixtures.make('layers-cnn', path, cnn, x, [1, 3], cases)

    mlp = Mlp().eval()
    path = exported(mlp, out / 'layers-mlp')
    x = data.normal(0, 1, (3, *mlp.input_shape)).astype(np.float32)
    fixtures.make('layers-mlp', path, mlp, x, [0, 4, 2], layer_cases('fc2', '/fc2/Gemm', '/fc2/Gemm_output_0', 0.3, [7], [False]))


if __name__ == '__main__':
    main()
