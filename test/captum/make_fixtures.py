#!/usr/bin/python3
"""Captum's own answers for gradlens's methods: every fixture here is computed by Captum 0.8's classes, not by a
re-derivation of their formulas (fixtures/make_fixtures.py has those), so test/captum/captum.test.ts checks that a
Captum user gets the same map from gradlens.

Run from the repository root, with Captum 0.8.0's source (git clone -b v0.8.0 https://github.com/meta-pytorch/captum)
and Debian's torch 1.13 (apt-get install python3-torch python3-onnx python3-numpy python3-pil):

    PYTHONPATH=/path/to/captum /usr/bin/python3 test/captum/make_fixtures.py

Deterministic: the inputs are fixed, and every random draw Captum makes is replaced by gradlens's own (below).

Models. Each is rebuilt in torch from the ONNX file the test loads (its initializers are the module's state_dict):
  digits  models/digits.onnx, the README demo's digit CNN (models/train_demo.py's architecture), 2 sample digits
  resnet  fixtures/pytorch/resnet.opset17.onnx (BatchNorm, residual adds; fixtures/make_fixtures.py), 2 inputs
  mlp     fixtures/pytorch/mlp.opset17.onnx (GELU, LayerNorm, Tanh), 3 inputs
The rebuilt resnet and mlp reproduce fixtures/pytorch/<model>/logits.npy, checked here.

Random methods (NoiseTunnel, GradientShap) are made exactly comparable: while Captum runs, the torch and numpy calls
it draws with (torch.normal in NoiseTunnel._add_noise_to_input, np.random.choice in _expand_and_update_baselines,
np.random.uniform in InputBaselineXGradient) are replaced by gradlens's draws, Philox4x32-10 keyed by the seed
(src/attribution/philox.ts, shaders/attribution/attribution.wgsl) reimplemented below in numpy; every other
random function raises meanwhile, and each replaced one must be called once. Captum's batch row r is input r // S,
sample r % S (repeat_interleave), gradlens's point (input i, sample s):
  noise     σ·z, z = √(−2 ln u₀)·cos(2π u₁), (u₀, u₁) = unit(Philox([e, s, stream_i, 0], seed)[0:2])
  baseline  Philox([0, s, stream_i, 1], seed)[0] mod k        α = unit(Philox([0, s, stream_i, 1], seed)[1])
  uniform baseline of IG: low_i + (high_i − low_i)·unit(Philox([e, 0, stream_i, 3], seed)[0])
with unit(w) = ((w >> 8) + 1) / 2²⁴ and stream_i = i. Captum's own aggregation (sums, squares, variance) runs as is.
gradlens's GPU draws equal these float64 formulas to ~2e-7 (box_muller in shaders/lib/philox.wgsl computes its own ln
and cos for that), so random cases agree as closely as the others.

Fixture format (reusable by any method's Captum fixtures; test/captum/captum.test.ts reads every manifest):
  test/captum/fixtures/<model>/manifest.json
    model        the ONNX file, from the repository root
    inputShape   without the batch axis; count: inputs; input: their .npy (float32, count × inputShape)
    targets      one class per input (the score is the logit, Captum's convention)
    cases[]      name         one line
                 captum       the Captum call that made it (model = the torch module, x = inputs, t = targets)
                 gradlens     the gradlens ExplainOptions that must give the same (target aside); a tensor option
                              is {"npy": file} in this folder (float32)
                 expected     .npy named after the case, float32: Captum run in float64 (model.double()), rounded once,
                              in gradlens's shape (Grad-CAM's map upsampled and repeated over the input's channels, as
                              gradlens returns it; a layer method's, the layer's); the test compares equal-length arrays
                 float32Deviation  ‖Captum float32 − Captum float64‖₂ / ‖Captum float64‖₂: Captum's own rounding
                 tolerance    max(1e-4, 3 × float32Deviation), on gradlens's relative L2 distance to `expected`
                 delta        where Captum returns one (return_convergence_delta): per input, float64
                 draws        the random calls replaced by gradlens's Philox draws (random methods only)
Another lane adds cases with `Case(...)` in its model's list below; the test needs no change.
"""
import contextlib
import copy
import importlib.util
import json
import re
import os
import sys
from pathlib import Path
from unittest import mock

import warnings

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from PIL import Image

import captum
from captum.attr import (
    Deconvolution,
    GradientShap,
    GuidedBackprop,
    GuidedGradCam,
    InputXGradient,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Saliency,
)

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / 'test' / 'captum' / 'fixtures'
MIN_TOLERANCE = 1e-4

# ---------------------------------------------------------------------------------------------------------------
# gradlens's random draws (src/attribution/philox.ts), vectorised

MASK = np.uint64(0xFFFFFFFF)


def philox(c0, c1, c2, c3, seed):
    """Philox4x32-10 on broadcast uint32 counters, key (seed mod 2³², seed div 2³²), as shaders/lib/philox.wgsl."""
    c = [np.asarray(v, dtype=np.uint64) & MASK for v in np.broadcast_arrays(c0, c1, c2, c3)]
    k0, k1 = np.uint64(seed & 0xFFFFFFFF), np.uint64((seed >> 32) & 0xFFFFFFFF)
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c[0]
        p1 = np.uint64(0xCD9E8D57) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & MASK, (p0 >> np.uint64(32)) ^ c[3] ^ k1, p0 & MASK]
        k0, k1 = (k0 + np.uint64(0x9E3779B9)) & MASK, (k1 + np.uint64(0xBB67AE85)) & MASK
    return c


def unit(word):
    return ((word >> np.uint64(8)).astype(np.float64) + 1) / 16777216.0


# Random123's known answers (also test/attribution/engine.test.ts): the numpy generator is Philox4x32-10.
for counter, key, answer in [
    ([0, 0, 0, 0], 0, [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([0xFFFFFFFF] * 4, 0xFFFFFFFFFFFFFFFF, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], 0x299F31D0A4093822, [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
]:
    assert [int(w) for w in philox(*counter, key)] == answer


class Draws:
    """gradlens's draws for `count` inputs (streams 0 … count − 1) under `seed`, laid out as Captum's batch rows."""

    def __init__(self, seed, count):
        self.seed, self.count = seed, count

    def rows(self, rows):
        samples = rows // self.count
        assert samples * self.count == rows, f'{rows} rows for {self.count} inputs'
        r = np.arange(rows)
        return r // samples, r % samples  # input, sample

    def normal(self, shape):
        inputs, samples = self.rows(shape[0])
        elements = np.arange(int(np.prod(shape[1:])))
        w = philox(elements[None, :], samples[:, None], inputs[:, None], 0, self.seed)
        return (np.sqrt(-2 * np.log(unit(w[0]))) * np.cos(2 * np.pi * unit(w[1]))).reshape(shape)

    def choice(self, rows):
        inputs, samples = self.rows(rows)
        return philox(0, samples, inputs, 1, self.seed)

    def uniform_baseline(self, x):
        """IG's 'uniform' baseline: each input's own [min, max], float32 (src/attribution/baselines.ts)."""
        flat = x.reshape(self.count, -1)
        u = unit(philox(np.arange(flat.shape[1])[None, :], 0, np.arange(self.count)[:, None], 3, self.seed)[0])
        low, high = flat.min(1, keepdims=True).astype(np.float64), flat.max(1, keepdims=True).astype(np.float64)
        return (low + (high - low) * u).astype(np.float32).reshape(x.shape)


@contextlib.contextmanager
def gradlens_draws(draws):
    """Captum's random calls answered by `draws`; any other random call fails. Yields the names of those called."""
    called = []

    def normal(mean, std, *rest, **kwargs):
        assert mean == 0 and isinstance(std, torch.Tensor) and not rest and not kwargs, 'unexpected torch.normal call'
        called.append('torch.normal')
        return (std.double() * torch.from_numpy(draws.normal(tuple(std.shape)))).to(std.dtype)

    def choice(a, size, *rest, **kwargs):
        assert isinstance(a, int) and not rest and not kwargs, 'unexpected np.random.choice call'
        called.append('np.random.choice')
        return (draws.choice(size)[0] % np.uint64(a)).astype(np.int64)

    def uniform(low, high, size, *rest):
        assert (low, high) == (0.0, 1.0) and not rest, 'unexpected np.random.uniform call'
        called.append('np.random.uniform')
        return unit(draws.choice(size)[1])

    def forbidden(name):
        def fail(*args, **kwargs):
            raise AssertionError(f'{name} is not matched to gradlens draws')

        return fail

    patches = [mock.patch('torch.normal', normal), mock.patch('numpy.random.choice', choice), mock.patch('numpy.random.uniform', uniform)]
    for name in ['torch.rand', 'torch.randn', 'torch.randint', 'torch.rand_like', 'torch.randn_like', 'torch.randperm',
                 'numpy.random.rand', 'numpy.random.randn', 'numpy.random.randint', 'numpy.random.normal', 'numpy.random.random']:
        patches.append(mock.patch(name, forbidden(name)))
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield called
    assert len(called) == len(set(called)), f'a draw was made more than once: {called}'


# ---------------------------------------------------------------------------------------------------------------
# Models, rebuilt from their ONNX files


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def with_onnx_weights(net, onnx_path):
    """The module with the ONNX file's initializers as its parameters and buffers (names are state_dict keys)."""
    weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in onnx.load(str(onnx_path)).graph.initializer}
    state = net.state_dict()
    missing = [k for k in state if k not in weights and not k.endswith('num_batches_tracked')]
    assert not missing, f'{onnx_path} lacks {missing}'
    net.load_state_dict({k: weights.get(k, v) for k, v in state.items()})
    return net.eval()


def digits_model():
    # train_demo needs scikit-learn only to train the tabular model: stand-ins let it import without it.
    with mock.patch.dict(sys.modules, {name: mock.MagicMock() for name in ['sklearn', 'sklearn.datasets', 'sklearn.model_selection']}):
        demo = load_module(ROOT / 'models' / 'train_demo.py', 'train_demo')
    torch.use_deterministic_algorithms(False)  # train_demo turns it on at import; Captum's hooks need nothing of it
    net = with_onnx_weights(demo.digit_classifier(), ROOT / 'models' / 'digits.onnx')
    files = ['3_0000.png', '8_0001.png']
    x = np.stack([np.asarray(Image.open(ROOT / 'samples' / 'digits' / f), dtype=np.float32)[None] / 255 for f in files])
    targets = [int(f[0]) for f in files]
    return net, x.astype(np.float32), targets


def fixture_model(name, cls_name, count):
    fixtures = load_module(ROOT / 'fixtures' / 'make_fixtures.py', 'pytorch_fixtures')
    onnx_path = ROOT / 'fixtures' / 'pytorch' / f'{name}.opset17.onnx'
    net = with_onnx_weights(getattr(fixtures, cls_name)(), onnx_path)
    x = np.load(ROOT / 'fixtures' / 'pytorch' / name / 'input.npy')
    with torch.no_grad():
        logits = net(torch.from_numpy(x)).numpy()
    assert np.allclose(logits, np.load(ROOT / 'fixtures' / 'pytorch' / name / 'logits.npy'), atol=1e-5), f'{name}: not the ONNX model'
    targets = [int(t) for t in np.load(ROOT / 'fixtures' / 'pytorch' / name / 'target.npy')]
    return net, x[:count].copy(), targets[:count]


# ---------------------------------------------------------------------------------------------------------------
# Cases


class Case:
    """One Captum call and the gradlens options that must agree with it.

    run(net, x, t, tensor) -> attribution, or (attribution, delta): `tensor(array)` gives an array in the run's dtype,
    x the inputs (requires no grad), t the targets. `seed`: the call draws random numbers, gradlens's with this seed.
    """

    def __init__(self, name, gradlens, captum, run, seed=None, arrays=None, layer_shaped=False):
        self.name, self.gradlens, self.captum, self.run, self.seed, self.arrays = name, gradlens, captum, run, seed, arrays or {}
        self.layer_shaped = layer_shaped  # a layer method's result has the layer's shape (test/captum/make_layers.py)


def upsampled(layer_map, x, mode):
    """A layer map as gradlens returns it: interpolated to the input (LayerAttribution.interpolate), over its channels."""
    return LayerAttribution.interpolate(layer_map, tuple(x.shape[2:]), mode).expand(-1, x.shape[1], -1, -1)


def gradient_cases(net):
    """Saliency, InputXGradient, GuidedBackprop, Deconvolution: every model."""
    return [
        Case('Saliency (abs, Captum default)', {'method': 'saliency'}, 'Saliency(model).attribute(x, t)',
             lambda m, x, t, _: Saliency(m).attribute(x, t)),
        Case('Saliency signed', {'method': 'saliency', 'absolute': False}, 'Saliency(model).attribute(x, t, abs=False)',
             lambda m, x, t, _: Saliency(m).attribute(x, t, abs=False)),
        Case('InputXGradient', {'method': 'gradient-x-input'}, 'InputXGradient(model).attribute(x, t)',
             lambda m, x, t, _: InputXGradient(m).attribute(x, t)),
        Case('GuidedBackprop', {'method': 'guided-backprop'}, 'GuidedBackprop(model).attribute(x, t)',
             lambda m, x, t, _: GuidedBackprop(m).attribute(x, t)),
        Case('Deconvolution', {'method': 'deconvnet'}, 'Deconvolution(model).attribute(x, t)',
             lambda m, x, t, _: Deconvolution(m).attribute(x, t)),
    ]


def ig(m, x, t, **kwargs):
    return IntegratedGradients(m).attribute(x, target=t, return_convergence_delta=True, **kwargs)


def path_cases(x, baseline_set, stdev, seed):
    """IntegratedGradients (every rule and baseline kind), GradientShap, NoiseTunnel over Saliency and IG."""
    cases = [Case('IntegratedGradients, defaults (gausslegendre, 50 steps, zero baseline)', {'method': 'integrated-gradients'},
                  'IntegratedGradients(model).attribute(x, t, return_convergence_delta=True)', lambda m, x, t, _: ig(m, x, t))]
    for rule in ['riemann_left', 'riemann_right', 'riemann_middle', 'riemann_trapezoid', 'gausslegendre']:
        cases.append(Case(f'IntegratedGradients, {rule}, 20 steps', {'method': 'integrated-gradients', 'rule': rule, 'steps': 20},
                          f"IntegratedGradients(model).attribute(x, t, n_steps=20, method='{rule}', return_convergence_delta=True)",
                          lambda m, x, t, _, rule=rule: ig(m, x, t, n_steps=20, method=rule)))
    per_input = baseline_set[: len(x)]
    uniform = Draws(seed, len(x)).uniform_baseline(x)
    cases += [
        Case('IntegratedGradients, constant baseline 0.25', {'method': 'integrated-gradients', 'steps': 24, 'baseline': {'constant': 0.25}},
             'IntegratedGradients(model).attribute(x, t, baselines=0.25, n_steps=24, return_convergence_delta=True)',
             lambda m, x, t, _: ig(m, x, t, baselines=0.25, n_steps=24)),
        Case('IntegratedGradients, a baseline tensor per input', {'method': 'integrated-gradients', 'steps': 24, 'baseline': {'npy': 'baseline.npy'}},
             'IntegratedGradients(model).attribute(x, t, baselines=baseline, n_steps=24, return_convergence_delta=True)',
             lambda m, x, t, tensor: ig(m, x, t, baselines=tensor(per_input), n_steps=24), arrays={'baseline.npy': per_input}),
        Case("IntegratedGradients, 'uniform' baseline (gradlens's Philox draw, a tensor to Captum)",
             {'method': 'integrated-gradients', 'steps': 24, 'baseline': 'uniform', 'seed': seed},
             'IntegratedGradients(model).attribute(x, t, baselines=uniform, n_steps=24, return_convergence_delta=True)',
             lambda m, x, t, tensor: ig(m, x, t, baselines=tensor(uniform), n_steps=24)),
        Case('GradientShap, stdevs=0 (= expected gradients)', {'method': 'expected-gradients', 'baselines': {'npy': 'baseline_set.npy'},
             'samples': 6, 'seed': seed}, 'GradientShap(model).attribute(x, baseline_set, n_samples=6, target=t)',
             lambda m, x, t, tensor: GradientShap(m).attribute(x, tensor(baseline_set), n_samples=6, target=t),
             seed=seed, arrays={'baseline_set.npy': baseline_set}),
        Case(f'GradientShap, stdevs={stdev}', {'method': 'gradient-shap', 'baselines': {'npy': 'baseline_set.npy'}, 'samples': 6,
             'stdev': stdev, 'seed': seed + 1}, f'GradientShap(model).attribute(x, baseline_set, n_samples=6, stdevs={stdev}, target=t)',
             lambda m, x, t, tensor: GradientShap(m).attribute(x, tensor(baseline_set), n_samples=6, stdevs=stdev, target=t),
             seed=seed + 1, arrays={'baseline_set.npy': baseline_set}),
    ]
    nt = {'smoothgrad': 'smoothgrad', 'smoothgrad_sq': 'smoothgrad-sq', 'vargrad': 'vargrad'}
    for captum_type, tunnel in nt.items():
        seed += 10
        noise = {'samples': 4, 'stdev': stdev, 'seed': seed}
        call = f"NoiseTunnel({{}}).attribute(x, nt_type='{captum_type}', nt_samples=4, stdevs={stdev}, target=t{{}})"
        cases += [
            Case(f'NoiseTunnel({captum_type}) over Saliency (abs)', {'method': 'saliency', 'noiseTunnel': tunnel, **noise},
                 call.format('Saliency(model)', ''),
                 lambda m, x, t, _, ty=captum_type: NoiseTunnel(Saliency(m)).attribute(x, nt_type=ty, nt_samples=4, stdevs=stdev, target=t),
                 seed=seed),
            Case(f'NoiseTunnel({captum_type}) over signed Saliency', {'method': tunnel, **noise, 'seed': seed + 1},
                 call.format('Saliency(model)', ', abs=False'),
                 lambda m, x, t, _, ty=captum_type: NoiseTunnel(Saliency(m)).attribute(
                     x, nt_type=ty, nt_samples=4, stdevs=stdev, target=t, abs=False), seed=seed + 1),
            Case(f'NoiseTunnel({captum_type}) over IntegratedGradients (riemann_middle, 8 steps)',
                 {'method': 'integrated-gradients', 'rule': 'riemann_middle', 'steps': 8, 'noiseTunnel': tunnel, **noise, 'seed': seed + 2},
                 call.format('IntegratedGradients(model)', ", n_steps=8, method='riemann_middle'"),
                 lambda m, x, t, _, ty=captum_type: NoiseTunnel(IntegratedGradients(m)).attribute(
                     x, nt_type=ty, nt_samples=4, stdevs=stdev, target=t, n_steps=8, method='riemann_middle'), seed=seed + 2),
        ]
    cases.append(Case('NoiseTunnel(smoothgrad) over InputXGradient', {'method': 'gradient-x-input', 'noiseTunnel': 'smoothgrad', 'samples': 4,
                      'stdev': stdev, 'seed': seed + 3}, f"NoiseTunnel(InputXGradient(model)).attribute(x, nt_type='smoothgrad', nt_samples=4, "
                      f'stdevs={stdev}, target=t)', lambda m, x, t, _: NoiseTunnel(InputXGradient(m)).attribute(
                          x, nt_type='smoothgrad', nt_samples=4, stdevs=stdev, target=t), seed=seed + 3))
    return cases


def cam_cases(layer_of, layer_name, stdev, seed):
    """LayerGradCam (+ LayerAttribution.interpolate) and GuidedGradCam on an image model; layer_of(net) is the module."""
    cases = []
    for relu in [True, False]:
        for mode in ['bilinear', 'nearest']:
            cases.append(Case(f'LayerGradCam relu_attributions={relu}, interpolate {mode}', {'method': 'grad-cam', 'relu': relu, 'upsample': mode},
                              f"LayerAttribution.interpolate(LayerGradCam(model, model.{layer_name}).attribute(x, t, relu_attributions={relu}), "
                              f"(H, W), '{mode}'), repeated over the input's channels",
                              lambda m, x, t, _, relu=relu, mode=mode: upsampled(LayerGradCam(m, layer_of(m)).attribute(
                                  x, t, relu_attributions=relu), x, mode)))
    for mode, options in [('nearest', {}), ('bilinear', {'upsample': 'bilinear'})]:
        cases.append(Case(f'GuidedGradCam interpolate_mode={mode}', {'method': 'guided-grad-cam', **options},
                          f"GuidedGradCam(model, model.{layer_name}).attribute(x, t, interpolate_mode='{mode}')",
                          lambda m, x, t, _, mode=mode: GuidedGradCam(m, layer_of(m)).attribute(x, t, interpolate_mode=mode)))
    cases.append(Case('NoiseTunnel(smoothgrad) over GuidedGradCam', {'method': 'guided-grad-cam', 'noiseTunnel': 'smoothgrad', 'samples': 3,
                      'stdev': stdev, 'seed': seed}, f"NoiseTunnel(GuidedGradCam(model, model.{layer_name})).attribute(x, nt_type='smoothgrad', "
                      f'nt_samples=3, stdevs={stdev}, target=t)', lambda m, x, t, _: NoiseTunnel(GuidedGradCam(m, layer_of(m))).attribute(
                          x, nt_type='smoothgrad', nt_samples=3, stdevs=stdev, target=t), seed=seed))
    return cases


# ---------------------------------------------------------------------------------------------------------------
# Running Captum in float32 and float64


def run_case(case, net, x, targets, dtype):
    model = copy.deepcopy(net).to(dtype)
    tensor = lambda array: torch.from_numpy(np.asarray(array)).to(dtype)
    t = torch.tensor(targets)
    with gradlens_draws(Draws(case.seed, len(x))) if case.seed is not None else contextlib.nullcontext() as called:
        result = case.run(model, tensor(x), t, tensor)
    attribution, delta = result if isinstance(result, tuple) else (result, None)
    return attribution.detach().to(torch.float64).numpy(), (None if delta is None else delta.detach().double().numpy()), called


def relative_l2(a, b):
    return float(np.linalg.norm((a - b).ravel()) / np.linalg.norm(b.ravel()))


def make(name, onnx_path, net, x, targets, cases):
    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob('*.npy'):
        old.unlink()
    np.save(folder / 'input.npy', x.astype(np.float32))
    manifest = {
        'generator': f'test/captum/{Path(sys.argv[0]).name}',
        'versions': {'captum': captum.__version__, 'torch': torch.__version__, 'numpy': np.__version__},
        'model': onnx_path,
        'inputShape': list(x.shape[1:]),
        'count': len(x),
        'input': 'input.npy',
        'targets': targets,
        'cases': [],
    }
    for number, case in enumerate(cases):
        a32, _, _ = run_case(case, net, x, targets, torch.float32)
        a64, delta, called = run_case(case, net, x, targets, torch.float64)
        deviation = relative_l2(a32, a64)
        file = re.sub(r'[^a-z0-9]+', '-', case.name.lower()).strip('-')[:72].rstrip('-') + '.npy'
        assert not (folder / file).exists(), f'{name}: two cases named {file}'
        np.save(folder / file, a64.astype(np.float32))
        for array_name, array in case.arrays.items():
            np.save(folder / array_name, np.asarray(array, dtype=np.float32))
        entry = {'name': case.name, 'captum': case.captum, 'gradlens': case.gradlens, 'expected': file,
                 'float32Deviation': float(f'{deviation:.3g}'), 'tolerance': float(f'{max(MIN_TOLERANCE, 3 * deviation):.3g}')}
        if delta is not None:
            entry['delta'] = [float(d) for d in delta]
        if called:
            entry['draws'] = called
        manifest['cases'].append(entry)
        print(f'{name} {number:2d} {case.name}: float32 vs float64 {deviation:.2e}{"  draws " + ", ".join(called) if called else ""}')
    (folder / 'manifest.json').write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + '\n')


def main():
    warnings.filterwarnings('ignore', module='captum')  # "required_grads has been set automatically", hooks on ReLU
    torch.manual_seed(0)  # nothing below draws from torch's generator (gradlens_draws forbids it); this only pins it
    sets = np.random.default_rng(14)

    net, x, targets = digits_model()
    # Baseline set: black, mid grey, and two of uniform noise in [0, 1].
    digit_set = np.concatenate([np.zeros((1, *x.shape[1:])), np.full((1, *x.shape[1:]), 0.5), sets.uniform(0, 1, (2, *x.shape[1:]))])
    cases = gradient_cases(net) + path_cases(x, digit_set.astype(np.float32), 0.2, 2**33 + 14) + cam_cases(lambda m: m.relu2, 'relu2', 0.2, 77)
    make('digits', 'models/digits.onnx', net, x, targets, cases)

    net, x, targets = fixture_model('resnet', 'SmallResNet', 2)
    resnet_set = sets.normal(0, 1, (3, *x.shape[1:])).astype(np.float32)
    paths = [c for c in path_cases(x, resnet_set, 0.3, 5) if c.name.startswith(('IntegratedGradients, defaults', 'GradientShap'))]
    guided_tunnel = Case('NoiseTunnel(smoothgrad_sq) over GuidedBackprop', {'method': 'guided-backprop', 'noiseTunnel': 'smoothgrad-sq',
                         'samples': 4, 'stdev': 0.3, 'seed': 79}, "NoiseTunnel(GuidedBackprop(model)).attribute(x, nt_type='smoothgrad_sq', "
                         'nt_samples=4, stdevs=0.3, target=t)', lambda m, x, t, _: NoiseTunnel(GuidedBackprop(m)).attribute(
                             x, nt_type='smoothgrad_sq', nt_samples=4, stdevs=0.3, target=t), seed=79)
    cases = gradient_cases(net) + paths + [guided_tunnel] + cam_cases(lambda m: m.block2.relu2, 'block2.relu2', 0.3, 78)
    make('resnet', 'fixtures/pytorch/resnet.opset17.onnx', net, x, targets, cases)

    net, x, targets = fixture_model('mlp', 'Mlp', 3)
    mlp_set = sets.normal(0, 1, (4, *x.shape[1:])).astype(np.float32)
    make('mlp', 'fixtures/pytorch/mlp.opset17.onnx', net, x, targets, gradient_cases(net) + path_cases(x, mlp_set, 0.3, 9))

    total = sum(f.stat().st_size for f in OUT.rglob('*') if f.is_file())
    print(f'total size of {OUT.relative_to(ROOT)}: {total / 1024:.1f} KiB')


if __name__ == '__main__':
    main()
