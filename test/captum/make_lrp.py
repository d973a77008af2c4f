#!/usr/bin/python3
"""Captum 0.8's LRP on the README's digit CNN and a small MLP, as fixtures test/captum/captum.test.ts checks (the
format, the float32-vs-float64 tolerance and the writer are test/captum/make_fixtures.py's; run that file's docstring's
way):

    PYTHONPATH=/path/to/captum /usr/bin/python3 test/captum/make_lrp.py

Captum's rules are set per layer (`layer.rule = ...`) before LRP(model).attribute(x, t); gradlens's `lrp` options
that give the same are beside each case. What the pairing rests on (docs/lrp.md):
  - Captum seeds the target's output f(x) and returns input relevance; gradlens's lrp does the same.
  - Captum's GammaRule keeps the bias b where gradlens (as Zennit) uses b + γb⁺, and its Alpha1_Beta0_Rule W⁺a + b
    where gradlens uses W⁺a⁺ + W⁻a⁻ + b⁺: the cases set set_bias_to_zero=True (gradlens zeroBias), and α1β0 runs
    on the digits, whose inputs are non-negative, so a⁻ = 0.
  - MaxPool: Captum's ε rule, a·R/(a + 1e-9) at the maximum, is gradlens's winner-take-all to within 1e-9.
  - The digit model's nn.Flatten gets EpsilonRule (Captum has no default for it): x·R/(x + 1e-9), a reshape.
  - The MLP's Sigmoid gets Captum's IdentityRule: relevance passes, as gradlens passes it through activations.
"""
import json
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import OUT, ROOT, Case, digits_model, make  # noqa: E402

from captum.attr import LRP  # noqa: E402
from captum.attr._utils.lrp_rules import Alpha1_Beta0_Rule, EpsilonRule, GammaRule, IdentityRule  # noqa: E402

LINEAR = (nn.Conv2d, nn.Linear)


def lrp(rule_of, extra=None):
    """LRP with rule_of(layer) on every Conv2d and Linear (None: Captum's default), `extra` on named layers."""

    def run(m, x, t, _):
        for name, layer in m.named_modules():
            if isinstance(layer, LINEAR) and rule_of(layer) is not None:
                layer.rule = rule_of(layer)
            if name in (extra or {}):
                layer.rule = extra[name]()
        return LRP(m).attribute(x, target=t, return_convergence_delta=True)

    return run


def common_cases(extra, epsilon, gamma, where=''):
    """Captum's defaults, EpsilonRule(epsilon) and GammaRule(gamma, set_bias_to_zero) on every Conv2d and Linear."""
    return [
        Case(f'LRP, Captum defaults (epsilon 1e-9){where}', {'method': 'lrp', 'composite': 'epsilon', 'epsilon': 1e-9},
             'LRP(model).attribute(x, t)', lrp(lambda _: None, extra)),
        Case(f'LRP, EpsilonRule({epsilon})', {'method': 'lrp', 'composite': 'epsilon', 'epsilon': epsilon},
             f'layer.rule = EpsilonRule(epsilon={epsilon})', lrp(lambda _: EpsilonRule(epsilon=epsilon), extra)),
        Case(f'LRP, GammaRule({gamma}, set_bias_to_zero)', {'method': 'lrp', 'composite': 'gamma', 'gamma': gamma, 'zeroBias': True},
             f'layer.rule = GammaRule(gamma={gamma}, set_bias_to_zero=True)', lrp(lambda _: GammaRule(gamma, set_bias_to_zero=True), extra)),
    ]


def digit_cases():
    flatten = {'flatten': EpsilonRule}
    alpha_beta = lambda: Alpha1_Beta0_Rule(set_bias_to_zero=True)  # noqa: E731
    return common_cases(flatten, 0.25, 0.25) + [
        Case('LRP, Alpha1_Beta0_Rule(set_bias_to_zero)', {'method': 'lrp', 'composite': 'alpha1beta0', 'zeroBias': True},
             'layer.rule = Alpha1_Beta0_Rule(set_bias_to_zero=True)', lrp(lambda _: alpha_beta(), flatten)),
        Case('LRP, Alpha1_Beta0 on conv, Epsilon(1e-6) on linear (Zennit EpsilonPlus)',
             {'method': 'lrp', 'composite': 'epsilon-plus', 'epsilon': 1e-6, 'zeroBias': True},
             'conv.rule = Alpha1_Beta0_Rule(set_bias_to_zero=True); linear.rule = EpsilonRule(1e-6)',
             lrp(lambda layer: alpha_beta() if isinstance(layer, nn.Conv2d) else EpsilonRule(1e-6), flatten)),
    ]


def mlp_model():
    torch.manual_seed(14)
    net = nn.Sequential(OrderedDict([
        ('fc1', nn.Linear(6, 12)), ('relu1', nn.ReLU()), ('fc2', nn.Linear(12, 8)), ('sigmoid', nn.Sigmoid()), ('fc3', nn.Linear(8, 4)),
    ])).eval()
    x = np.random.default_rng(15).normal(0, 1, (3, 6)).astype(np.float32)  # signed: ε and γ need no sign of a
    return net, x


def mlp_cases():
    return common_cases({'sigmoid': IdentityRule}, 0.1, 0.5, where=', IdentityRule on the Sigmoid')


def main():
    net, x, targets = digits_model()
    make('lrp-digits', 'models/digits.onnx', net, x, targets, digit_cases())

    net, x = mlp_model()
    folder = OUT / 'lrp-mlp'
    folder.mkdir(parents=True, exist_ok=True)
    onnx_path = folder / 'mlp.onnx'
    torch.onnx.export(net, torch.from_numpy(x[:1]), str(onnx_path), opset_version=17, input_names=['input'], output_names=['logits'],
                      dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
    with torch.no_grad():
        targets = [int(t) for t in net(torch.from_numpy(x)).argmax(1)]
    make('lrp-mlp', str(onnx_path.relative_to(ROOT)), net, x, targets, mlp_cases())

    for name in ['lrp-digits', 'lrp-mlp']:  # make() names its own file as the generator
        manifest = json.loads((OUT / name / 'manifest.json').read_text())
        manifest['generator'] = 'test/captum/make_lrp.py'
        (OUT / name / 'manifest.json').write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + '\n')


if __name__ == '__main__':
    main()
