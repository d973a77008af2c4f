#!/usr/bin/python3
"""Trains gradlens's demo text model, a small BERT-style sentiment encoder, and writes models/sentiment.onnx, its
sample sentences (samples/text/) and models/sentiment.md.

Needs Debian's Python packages (not pip's):  apt-get install python3-torch python3-onnx python3-numpy
Run from anywhere:  /usr/bin/python3 models/train_text.py   (a few seconds; one CPU core)

Seeded and single-threaded, so the same torch version writes the same weights every time. The sentences are made
from templates over a 40-word vocabulary, with negation ("not good", "never boring") so that the label depends on
word order, which a bag of words cannot learn.
"""
import itertools
import json
import random
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

SEED = 0
ROOT = Path(__file__).resolve().parent.parent
OPSET = 17
LABELS = ['negative', 'positive']
PAD, CLS, UNK = '[PAD]', '[CLS]', '[UNK]'
POSITIVE = ['good', 'great', 'excellent', 'fun', 'wonderful', 'brilliant', 'moving']
NEGATIVE = ['bad', 'awful', 'boring', 'dull', 'terrible', 'poor', 'weak']
NEGATORS = ['not', 'never']
INTENSIFIERS = ['very', 'really', 'so', 'truly']
SUBJECTS = ['the movie', 'the film', 'the plot', 'the acting', 'the story', 'it']
VERBS = ['is', 'was']
WORDS = sorted({w for phrase in SUBJECTS for w in phrase.split()} | set(VERBS + NEGATORS + INTENSIFIERS + POSITIVE + NEGATIVE)
               | {'and', 'but', 'i', 'liked', 'hated'})
VOCAB = [PAD, CLS, UNK] + WORDS
MAX_LENGTH = 16
WIDTH, HEADS, FEEDFORWARD, LAYERS = 32, 2, 64, 2


class SentimentEncoder(nn.Module):
    """BERT's shape at toy size: token + position embeddings, LayerNorm, post-norm encoder layers with GELU, and a
    classifier on the first token ([CLS]). No attention mask: one sentence per call at its own length."""

    def __init__(self):
        super().__init__()
        self.token_embedding = nn.Embedding(len(VOCAB), WIDTH, padding_idx=0)  # [PAD] embeds to zeros: Captum's usual baseline
        self.position_embedding = nn.Parameter(torch.randn(MAX_LENGTH, WIDTH) * 0.02)
        self.norm = nn.LayerNorm(WIDTH)
        layer = nn.TransformerEncoderLayer(WIDTH, HEADS, FEEDFORWARD, dropout=0.0, activation='gelu', batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
        self.classifier = nn.Linear(WIDTH, len(LABELS))

    def forward(self, ids):
        x = self.token_embedding(ids) + self.position_embedding[: ids.shape[1]]
        return self.classifier(self.encoder(self.norm(x))[:, 0])


def sentence(rng):
    """One templated review and its label: a sentiment word, maybe negated (flipping it), maybe intensified."""
    positive = rng.random() < 0.5
    negated = rng.random() < 0.4
    word = rng.choice(POSITIVE if positive != negated else NEGATIVE)
    adverb = [rng.choice(INTENSIFIERS)] if rng.random() < 0.3 else []
    words = rng.choice(SUBJECTS).split() + [rng.choice(VERBS)] + ([rng.choice(NEGATORS)] if negated else []) + adverb + [word]
    if rng.random() < 0.3:  # a second clause that agrees
        words += ['and', 'i', 'liked' if positive else 'hated', 'it']
    return words, int(positive)


def encode(words):
    return [VOCAB.index(CLS)] + [VOCAB.index(w) if w in VOCAB else VOCAB.index(UNK) for w in words]


def batches(data, size):
    by_length = {}
    for ids, label in data:
        by_length.setdefault(len(ids), []).append((ids, label))
    for group in by_length.values():
        for start in range(0, len(group), size):
            chunk = group[start:start + size]
            yield torch.tensor([ids for ids, _ in chunk]), torch.tensor([label for _, label in chunk])


def train():
    """The trained model and its accuracy on the held-out reviews (the same weights every run)."""
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    rng = random.Random(SEED)
    data = [(encode(words), label) for words, label in (sentence(rng) for _ in range(3000))]
    training, test = data[:2500], data[2500:]
    model = SentimentEncoder()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(6):
        model.train()
        rng.shuffle(training)
        for ids, labels in batches(training, 32):
            optimizer.zero_grad()
            loss_fn(model(ids), labels).backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        right = sum(int(model(ids).argmax(1).eq(labels).sum()) for ids, labels in batches(test, 64))
    return model, right / len(test), len(training), len(test)


def main():
    model, accuracy, n_train, n_test = train()
    path = ROOT / 'models' / 'sentiment.onnx'
    example = torch.tensor([encode('the movie was not good'.split())])
    torch.onnx.export(model, example, str(path), opset_version=OPSET, input_names=['ids'], output_names=['logits'],
                      dynamic_axes={'ids': {0: 'batch', 1: 'sequence'}, 'logits': {0: 'batch'}}, do_constant_folding=True)
    graph = onnx.load(str(path))
    for key, value in (('labels', json.dumps(LABELS)), ('vocabulary', json.dumps(VOCAB))):
        graph.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(graph)
    onnx.save(graph, str(path))
    ops = sorted({node.op_type for node in graph.graph.node})

    samples = ROOT / 'samples' / 'text'
    samples.mkdir(parents=True, exist_ok=True)
    texts = ['the movie was not good', 'the acting was really brilliant', 'it was never boring and i liked it', 'the plot is dull']
    written = []
    for text in texts:
        tokens = [CLS] + text.split()
        ids = encode(text.split())
        with torch.no_grad():
            predicted = LABELS[int(model(torch.tensor([ids])).argmax())]
        name = '_'.join(text.split()[-3:]) + '.json'
        (samples / name).write_text(json.dumps({'tokens': tokens, 'ids': ids}) + '\n')
        written.append((name, text, predicted))
    (ROOT / 'models' / 'sentiment.md').write_text(readme(accuracy, n_train, n_test, ops, written, path.stat().st_size))
    print(f'sentiment: test accuracy {accuracy:.4f}, ops {ops}, {path.stat().st_size} bytes')
    for name, text, predicted in written:
        print(f'  {name}: {text!r} -> {predicted}')


def readme(accuracy, n_train, n_test, ops, samples, size):
    lines = '\n'.join(f'  - `{name}`: "{text}" → {predicted}' for name, text, predicted in samples)
    return f"""# sentiment.onnx: a BERT-style sentiment encoder on templated reviews

Written with its samples by `models/train_text.py` (edit the script, not this); seed {SEED}, one CPU thread, torch
{torch.__version__}. Regenerate: `/usr/bin/python3 models/train_text.py`.

- **Data**: {n_train + n_test} reviews made from templates over a {len(VOCAB)}-token vocabulary ("the movie was not good",
  "it was never boring and i liked it"); negation flips the label, so word order matters. Trained on {n_train}.
- **Test accuracy: {accuracy * 100:.2f} %** on the {n_test} held out.
- **Input** `ids` `[batch, sequence]`, int64 token ids (any length up to {MAX_LENGTH}, [CLS] first); the vocabulary is the
  model's metadata `vocabulary` (a JSON list: id → token; 0 is [PAD], whose embedding is zero), the class names its
  `labels`.
- **Output** `logits` `[batch, 2]`: {', '.join(f'{i} = {name}' for i, name in enumerate(LABELS))}.
- **Architecture**: token embedding ({len(VOCAB)}×{WIDTH}) + position embedding → LayerNorm → {LAYERS} ×
  `nn.TransformerEncoderLayer` ({HEADS} heads, feed-forward {FEEDFORWARD}, GELU, post-norm) → Linear on the first token.
  ONNX opset {OPSET}, {size} bytes; ops: {', '.join(ops)}.
- **Samples**: `samples/text/*.json`, `{{"tokens": [...], "ids": [...]}}`:
{lines}
"""


if __name__ == '__main__':
    main()
