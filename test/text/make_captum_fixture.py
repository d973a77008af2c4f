#!/usr/bin/python3
"""Captum 0.8's LayerIntegratedGradients on the token embedding of models/sentiment.onnx's network, for
test/text/captum.test.ts. The network is trained again by models/train_text.py (seeded: the same weights as the
committed ONNX file; the test checks the logits agree).

Run: PYTHONPATH=/path/to/captum-0.8-source /usr/bin/python3 test/text/make_captum_fixture.py
Writes test/text/fixtures/captum_layer_ig.json: per case the ids, baseline ids, target, Captum's attribution at the
embedding output (float32 and float64 runs of the same weights; their difference is Captum's own float32 error), its
sum over the embedding dimension (the per-token attribution of Captum's tutorials) and the convergence delta.
"""
import copy
import json
import sys
from pathlib import Path

import captum
import torch
from captum.attr import LayerIntegratedGradients

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'models'))
import train_text  # noqa: E402

STEPS = 50
CASES = [  # text, baseline token (every id replaced by it), target (None: top-1)
    ('the movie was not good', '[PAD]', None),  # [PAD] embeds to zeros: the zero-embedding baseline
    ('it was never boring and i liked it', '[UNK]', 1),
    ('the acting was really brilliant', '[CLS]', 0),
]


def attribute(model, ids, baseline, target):
    lig = LayerIntegratedGradients(model, model.token_embedding)
    attribution, delta = lig.attribute(ids, baselines=baseline, target=target, n_steps=STEPS, method='gausslegendre',
                                       return_convergence_delta=True)
    return attribution[0], float(delta[0])


def main():
    torch.set_num_threads(1)
    model32, *_ = train_text.train()
    model64 = copy.deepcopy(model32).double()
    cases = []
    for text, baseline_token, target in CASES:
        ids = torch.tensor([train_text.encode(text.split())])
        baseline = torch.full_like(ids, train_text.VOCAB.index(baseline_token))
        with torch.no_grad():
            logits = model64(ids)[0]
        target = int(logits.argmax()) if target is None else target
        a32, delta32 = attribute(model32, ids, baseline, target)
        a64, delta64 = attribute(model64, ids, baseline, target)
        cases.append({
            'text': text, 'ids': ids[0].tolist(), 'baselineToken': int(baseline[0, 0]), 'baselineName': baseline_token,
            'target': target, 'logits64': logits.tolist(), 'shape': list(a64.shape),
            'attribution64': a64.flatten().tolist(), 'attribution32': a32.double().flatten().tolist(),
            'tokens64': a64.sum(-1).tolist(), 'delta64': delta64, 'delta32': delta32,
        })
    out = Path(__file__).resolve().parent / 'fixtures' / 'captum_layer_ig.json'
    meta = {'captum': captum.__version__, 'torch': torch.__version__, 'method': 'LayerIntegratedGradients(model, model.token_embedding)',
            'steps': STEPS, 'rule': 'gausslegendre', 'cases': cases}
    out.write_text(json.dumps(meta) + '\n')
    print(f'{out.relative_to(ROOT)}: {len(cases)} cases, captum {captum.__version__}')


if __name__ == '__main__':
    main()
