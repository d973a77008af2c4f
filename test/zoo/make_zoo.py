#!/usr/bin/python3
"""The model zoo for test/zoo/zoo.test.ts: torchvision classification families with seeded weights at small input
sizes, exported by torch.onnx.export (opset 17), each with a fixture from PyTorch for the same weights and input.

Run: /usr/bin/python3 test/zoo/make_zoo.py [--out DIR] [NAME ...]   (needs: apt-get install python3-torch
python3-torchvision). Each model NAME gets DIR/NAME/ with model.onnx, input.npy (float32, batch 1), logits64.npy and
gradient64.npy (float64 forward and the input gradient of the top-1 logit, on the float32 weights) and meta.json
(family, input shape, target class, and torch's own float32-vs-float64 differences). Without --out, a model whose
ONNX file is at most 5 MB goes to test/zoo/models/ (committed), a larger one to test/zoo/generated/ (git-ignored,
made by the test when missing).
"""
import argparse
import copy
import json
import os

import numpy as np
import torch
import torchvision.models as tv
from torchvision.models import efficientnet, regnet
from torchvision.models.convnext import CNBlockConfig
from torchvision.models.resnet import Bottleneck

HERE = os.path.dirname(os.path.abspath(__file__))
COMMIT_LIMIT = 5 * 2**20
CLASSES = 10


def reduced_vgg():
    model = tv.vgg11(num_classes=CLASSES)
    model.avgpool = torch.nn.AdaptiveAvgPool2d(1)  # 32x32 inputs end at 1x1: the classifier reads 512 features
    model.classifier = torch.nn.Sequential(torch.nn.Linear(512, 64), torch.nn.ReLU(), torch.nn.Dropout(), torch.nn.Linear(64, CLASSES))
    return model


def reduced_alexnet():
    model = tv.alexnet(num_classes=CLASSES)
    model.avgpool = torch.nn.AdaptiveAvgPool2d(1)
    model.classifier = torch.nn.Sequential(torch.nn.Dropout(), torch.nn.Linear(256, 64), torch.nn.ReLU(), torch.nn.Linear(64, CLASSES))
    return model


def small_efficientnet():
    setting, last = efficientnet._efficientnet_conf('efficientnet_b0', width_mult=0.5, depth_mult=0.5)
    return efficientnet.EfficientNet(setting, 0.2, num_classes=CLASSES, last_channel=last)


def small_regnet():
    params = regnet.BlockParams.from_init_params(depth=6, w_0=16, w_a=8.0, w_m=2.0, group_width=8, se_ratio=0.25)
    return regnet.RegNet(params, num_classes=CLASSES)


class BertStyle(torch.nn.Module):
    """A BERT-style encoder on token ids: token + position embeddings, LayerNorm, post-norm encoder layers with GELU,
    a classifier on the first token. Its 'input gradient' is taken at the token embedding output (ids have none)."""
    vocabulary = 100

    def __init__(self, width=32, layers=2):
        super().__init__()
        self.token_embedding = torch.nn.Embedding(self.vocabulary, width)
        self.position_embedding = torch.nn.Parameter(torch.randn(64, width) * 0.02)
        self.norm = torch.nn.LayerNorm(width)
        layer = torch.nn.TransformerEncoderLayer(width, 2, 2 * width, dropout=0.0, activation='gelu', batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.classifier = torch.nn.Linear(width, CLASSES)

    def forward(self, ids):
        x = self.token_embedding(ids) + self.position_embedding[: ids.shape[1]]
        return self.classifier(self.encoder(self.norm(x))[:, 0])


# name -> (family, builder, per-sample input shape)
MODELS = {
    'resnet18': ('ResNet', lambda: tv.resnet18(num_classes=CLASSES), [3, 32, 32]),
    'mobilenet_v2': ('MobileNetV2', lambda: tv.mobilenet_v2(width_mult=0.5, num_classes=CLASSES), [3, 32, 32]),
    'efficientnet': ('EfficientNet', small_efficientnet, [3, 32, 32]),
    'regnet_y': ('RegNet', small_regnet, [3, 32, 32]),
    'densenet': ('DenseNet', lambda: tv.DenseNet(growth_rate=12, block_config=(2, 2, 2, 2), num_init_features=24, num_classes=CLASSES), [3, 32, 32]),
    'squeezenet1_1': ('SqueezeNet', lambda: tv.squeezenet1_1(num_classes=CLASSES), [3, 64, 64]),
    'googlenet': ('GoogLeNet', lambda: tv.googlenet(num_classes=CLASSES, aux_logits=False, init_weights=True), [3, 64, 64]),
    'vgg11': ('VGG', reduced_vgg, [3, 32, 32]),
    'alexnet': ('AlexNet', reduced_alexnet, [3, 64, 64]),
    'mobilenet_v3_small': ('MobileNetV3', lambda: tv.mobilenet_v3_small(num_classes=CLASSES), [3, 32, 32]),
    'shufflenet_v2': ('ShuffleNetV2', lambda: tv.shufflenet_v2_x0_5(num_classes=CLASSES), [3, 32, 32]),
    'mnasnet': ('MNASNet', lambda: tv.mnasnet0_5(num_classes=CLASSES), [3, 32, 32]),
    'convnext': ('ConvNeXt', lambda: tv.ConvNeXt([CNBlockConfig(16, 32, 1), CNBlockConfig(32, None, 1)], num_classes=CLASSES), [3, 32, 32]),
    # ResNeXt-50 32×4d and Wide ResNet-50-2 blocks (grouped, and twice as wide 3×3 convs) at one block per stage
    'resnext': ('ResNeXt', lambda: tv.ResNet(Bottleneck, [1, 1, 1, 1], groups=32, width_per_group=4, num_classes=CLASSES), [3, 32, 32]),
    'wide_resnet': ('Wide ResNet', lambda: tv.ResNet(Bottleneck, [1, 1, 1, 1], width_per_group=128, num_classes=CLASSES), [3, 32, 32]),
    'inception_v3': ('Inception v3', lambda: tv.inception_v3(num_classes=CLASSES, aux_logits=False, init_weights=True), [3, 75, 75]),
    # A small ViT, and ViT-B/16's layout (16×16 patches, class token, pre-norm blocks) at reduced depth, width and size
    'vit': ('ViT', lambda: tv.VisionTransformer(image_size=32, patch_size=8, num_layers=1, num_heads=2, hidden_dim=32, mlp_dim=64,
                                                num_classes=CLASSES), [3, 32, 32]),
    'vit_b_16': ('ViT', lambda: tv.VisionTransformer(image_size=64, patch_size=16, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128,
                                                     num_classes=CLASSES), [3, 64, 64]),
    # Swin-T's layout at two blocks per stage: second blocks shift their windows (roll, attention mask); 40×40 inputs
    # give 10×10 and 5×5 tokens, padded to whole 4×4 windows
    'swin': ('Swin', lambda: tv.SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[1, 2], window_size=[4, 4],
                                                num_classes=CLASSES), [3, 40, 40]),
    'bert': ('BERT-style encoder', BertStyle, [12]),  # token ids in
}


def seeded(name):
    """The model with torchvision's own initialisation under a fixed seed, in the regime of a trained network: heads
    that torchvision zero-initialises get small random weights, and BatchNorm statistics are measured on random
    inputs, so activations keep their scale through the depth (with the initial statistics, deep random nets' logits
    and gradients vanish: 1e-14 and less, a weak test)."""
    torch.manual_seed(sum(map(ord, name)))
    family, build, shape = MODELS[name]
    model = build()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear) and not module.weight.any():
                torch.nn.init.normal_(module.weight, std=0.02)
        norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        for module in norms:
            module.reset_running_stats()
            module.momentum = None  # a cumulative average over the calibration batches
        if norms:
            model.train()
            for _ in range(4):
                model(torch.randn(8, *shape))
    return model.eval()


def gradient(model, x):
    """The logits and the gradient of the top-1 logit at the input, or at the token embedding output for token ids."""
    if isinstance(model, BertStyle):
        embedded = []
        hook = model.token_embedding.register_forward_hook(lambda _, __, output: embedded.append(output) or output.retain_grad())
        logits = model(x)
        hook.remove()
        at = embedded[0]
    else:
        x = x.clone().requires_grad_(True)
        logits = model(x)
        at = x
    target = int(logits.argmax())
    logits[0, target].backward()
    return logits.detach(), at.grad.detach(), target


def away_from_kinks(model, shape):
    """A seeded input whose float64 gradient does not jump when the input moves by 1e-6: no ReLU pre-activation or
    max-pool near-tie sits within float32 rounding of it (1e-6). At such a kink float32 may legitimately take the other side
    (one flipped ReLU moved a gradient by 0.5% of its peak in MNASNet), so it would test luck, not arithmetic."""
    model64 = copy.deepcopy(model).double()
    for seed in range(7, 107):
        torch.manual_seed(seed)
        x = torch.randn(1, *shape)
        _, base, target = gradient(model64, x.double())
        jumps = []
        for _ in range(6):
            _, moved, moved_target = gradient(model64, x.double() + 1e-6 * torch.randn_like(x.double()))
            jumps.append(float((moved - base).abs().max()) if moved_target == target else float('inf'))
        if max(jumps) <= 1e-4 * float(base.abs().max()):
            return x, seed
    raise RuntimeError('no input away from kinks in 100 seeds')


def token_ids(shape):
    """Seeded token ids: an encoder on ids has no kinks (GELU, softmax), so any input serves."""
    seed = 7
    torch.manual_seed(seed)
    return torch.randint(0, BertStyle.vocabulary, (1, *shape)), seed


def make(name, out):
    family, _, shape = MODELS[name]
    model = seeded(name)
    text = isinstance(model, BertStyle)
    x, seed = token_ids(shape) if text else away_from_kinks(model, shape)
    directory = os.path.join(out, name) if out else os.path.join(HERE, 'models', name)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, 'model.onnx')
    torch.onnx.export(model, x, path, opset_version=17, input_names=['x'], output_names=['logits'],
                      dynamic_axes={'x': {0: 'batch', **({1: 'sequence'} if text else {})}, 'logits': {0: 'batch'}})
    if not out and os.path.getsize(path) > COMMIT_LIMIT:  # too large to commit: the test makes it when missing
        generated = os.path.join(HERE, 'generated', name)
        os.makedirs(generated, exist_ok=True)
        os.replace(path, os.path.join(generated, 'model.onnx'))
        os.rmdir(directory)
        directory = generated
    logits32, gradient32, target32 = gradient(model, x)
    logits64, gradient64, target = gradient(model.double(), x if text else x.double())
    np.save(os.path.join(directory, 'input.npy'), x.numpy())
    np.save(os.path.join(directory, 'logits64.npy'), logits64.numpy())
    np.save(os.path.join(directory, 'gradient64.npy'), gradient64.numpy())
    meta = {
        'family': family,
        'inputShape': shape,
        'inputSeed': seed,
        'target': target,
        # torch's own float32 error against float64 on the same weights: the scale of what float32 can reach here
        'logitDifference32': float((logits32.double() - logits64).abs().max()),
        'gradientDifference32': float((gradient32.double() - gradient64).abs().max()) if target32 == target else None,
        'gradientPeak64': float(gradient64.abs().max()),
        **({'gradientAt': 'token embedding output', 'vocabulary': BertStyle.vocabulary} if text else {}),
    }
    with open(os.path.join(directory, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print(name, family, os.path.getsize(os.path.join(directory, 'model.onnx')), 'bytes ->', os.path.relpath(directory, HERE))


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--out')
    parser.add_argument('names', nargs='*')
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name in args.names or MODELS:
        make(name, args.out)
