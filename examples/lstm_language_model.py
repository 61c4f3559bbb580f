"""Word-level LSTM language model on real Wikipedia text (the gensim dump, ~530k tokens).

Pipeline: clean articles -> basic_english tokens (+ <eos> per line) -> Vocab (10k most
frequent, <unk> for the rest) -> BPTTIterator batches -> LSTMLanguageModel (tied
weights) trained with SGD and gradient clipping; reports validation/test perplexity
and samples a few words.

    python packages/text/tools/fetch_real_data.py --only gensim
    python examples/lstm_language_model.py --epochs 2
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
from _text_corpora import wikipedia_articles

import ember
import ember.nn.functional as F
from ember.nn.utils import clip_grad_norm_
from ember.text import build_vocab_from_iterator, get_tokenizer
from ember.text.batching import BPTTIterator
from ember.text.models import LSTMLanguageModel


def load_corpus(max_vocab: int, max_tokens: int | None = None):
    """(vocab, train ids, valid ids, test ids): articles split 90/5/5 in order."""
    tok = get_tokenizer("basic_english")
    lines_per_article = [
        [tok(line) + ["<eos>"] for line in a.split("\n") if line.strip()]
        for a in wikipedia_articles()
    ]
    n = len(lines_per_article)
    parts = lines_per_article[: int(n * 0.9)], lines_per_article[int(n * 0.9) : int(n * 0.95)]
    parts += (lines_per_article[int(n * 0.95) :],)
    train_lines = [ln for art in parts[0] for ln in art]
    vocab = build_vocab_from_iterator(train_lines, specials=["<unk>"], max_tokens=max_vocab)
    vocab.set_default_index(vocab["<unk>"])

    def ids(articles):
        flat = [t for art in articles for ln in art for t in ln]
        return np.array(vocab(flat), dtype=np.int64)

    train, valid, test = (ids(p) for p in parts)
    if max_tokens:  # short runs: shrink evaluation in proportion
        train, valid, test = train[:max_tokens], valid[: max_tokens // 10], test[: max_tokens // 10]
    return vocab, train, valid, test


def evaluate(model, data, batch_size: int, bptt: int) -> float:
    """Perplexity of ``model`` on the token stream ``data``."""
    model.eval()
    total, count = 0.0, 0
    hidden = None
    with ember.no_grad():
        for x, y in BPTTIterator(data, batch_size, bptt):
            logits, hidden = model(x, hidden)
            loss = F.cross_entropy(logits.reshape(-1, model.vocab_size), y.reshape(-1))
            total += loss.item() * y.numel()
            count += y.numel()
    return math.exp(total / count)


def train_epoch(model, data, args, lr: float, max_steps: int | None = None) -> tuple[float, float]:
    """One pass of truncated BPTT with plain SGD; returns (train perplexity, tokens/s)."""
    model.train()
    hidden = None
    total, count, t0 = 0.0, 0, time.perf_counter()
    for step, (x, y) in enumerate(BPTTIterator(data, args.batch_size, args.bptt)):
        if max_steps is not None and step >= max_steps:
            break
        hidden = None if hidden is None else model.detach_hidden(hidden)
        logits, hidden = model(x, hidden)
        loss = F.cross_entropy(logits.reshape(-1, model.vocab_size), y.reshape(-1))
        model.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), args.clip)
        with ember.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
        total += loss.item() * y.numel()
        count += y.numel()
    return math.exp(total / max(count, 1)), count / (time.perf_counter() - t0)


def sample(model, vocab, n_words: int = 20, temperature: float = 0.8) -> str:
    """Draw ``n_words`` from the model, starting after an <eos>."""
    model.eval()
    x = ember.tensor([[vocab["<eos>"]]])
    hidden, words = None, []
    rng = np.random.default_rng(0)
    with ember.no_grad():
        for _ in range(n_words):
            logits, hidden = model(x, hidden)
            p = F.softmax(logits[0, -1] / temperature, dim=-1).numpy().astype(np.float64)
            i = int(rng.choice(len(p), p=p / p.sum()))
            words.append(vocab.lookup_token(i))
            x = ember.tensor([[i]])
    return " ".join(words)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--max-vocab", type=int, default=10000)
    p.add_argument("--emsize", type=int, default=200)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--lr", type=float, default=20.0)
    p.add_argument("--clip", type=float, default=0.25)
    p.add_argument("--bptt", type=int, default=35)
    p.add_argument("--batch-size", type=int, default=20)
    p.add_argument("--max-steps", type=int, default=None, help="cap steps per epoch (smoke runs)")
    p.add_argument(
        "--max-tokens",
        type=int,
        default=None,
        help="use only this many train tokens (and 10%% for eval)",
    )
    p.add_argument("--save", default=None, help="write the state dict here (ember.save)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    ember.manual_seed(args.seed)
    vocab, train, valid, test = load_corpus(args.max_vocab, args.max_tokens)
    print(f"vocab {len(vocab)}, tokens: train {len(train)}, valid {len(valid)}, test {len(test)}")
    model = LSTMLanguageModel(
        len(vocab), args.emsize, args.emsize, args.layers, args.dropout, tie_weights=True
    )
    lr, best = args.lr, float("inf")
    for epoch in range(1, args.epochs + 1):
        train_ppl, tps = train_epoch(model, train, args, lr, args.max_steps)
        val_ppl = evaluate(model, valid, 10, args.bptt)
        print(
            f"epoch {epoch}: train ppl {train_ppl:.1f}, valid ppl {val_ppl:.1f}, "
            f"{tps:.0f} tokens/s, lr {lr:g}"
        )
        if val_ppl < best:
            best = val_ppl
        else:
            lr /= 4.0  # anneal when validation stops improving
    test_ppl = evaluate(model, test, 10, args.bptt)
    print(f"test perplexity {test_ppl:.1f} (uniform over the vocabulary would be {len(vocab)})")
    print("sample:", sample(model, vocab))
    if args.save:
        ember.save(model.state_dict(), args.save)
    return {"valid_ppl": best, "test_ppl": test_ppl, "vocab": len(vocab)}


if __name__ == "__main__":
    main()
