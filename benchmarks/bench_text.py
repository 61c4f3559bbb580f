"""ember-text benchmarks on real data, against PyTorch on the same machine.

1. LSTM language model on the gensim Wikipedia text: the same model (2-layer LSTM,
   tied 200-d embeddings, 10k vocabulary), the same initial weights, data and SGD
   with clipping in ember and in PyTorch; validation perplexity after N epochs over
   the first ``--lm-tokens`` training tokens, and training tokens/s.
2. Sentiment classifier on Rotten Tomatoes (ember): accuracy and time.
3. all-MiniLM-L6-v2 sentence embeddings: sentences/s of ember's SentenceEncoder vs
   sentence-transformers (or transformers + mean pooling) on 256 real snippets.

PyTorch runs in its own interpreter (``--torch-python``, a venv with torch 2.13 and
optionally sentence-transformers); both sides use ``--threads`` BLAS/OpenMP threads.

    python benchmarks/bench_text.py --torch-python /tmp/venv-ref/bin/python --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "examples")


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--torch-python", default=None, help="python of a venv with torch")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--lm-tokens", type=int, default=100_000)
    p.add_argument("--lm-epochs", type=int, default=1)
    p.add_argument("--sentences", type=int, default=256)
    p.add_argument("--only", nargs="*", default=["lm", "sentiment", "minilm"])
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--workdir", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


ARGS = _args() if __name__ == "__main__" else None
if ARGS is not None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np

LM = {"emsize": 200, "layers": 2, "dropout": 0.2, "bptt": 35, "batch": 20, "lr": 20.0, "clip": 0.25}


# ---------------------------------------------------------------------------- torch side
def torch_lm(workdir: str, threads: int) -> dict:
    """The same LSTM LM in PyTorch, from the weights and data ember wrote."""
    import torch
    import torch.nn as tnn
    import torch.nn.functional as tF

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    data = {k: np.load(os.path.join(workdir, f"{k}.npy")) for k in ("train", "valid")}
    weights = dict(np.load(os.path.join(workdir, "weights.npz")))
    vocab = weights["encoder.weight"].shape[0]

    class Model(tnn.Module):
        def __init__(self):
            super().__init__()
            self.drop = tnn.Dropout(LM["dropout"])
            self.encoder = tnn.Embedding(vocab, LM["emsize"])
            self.rnn = tnn.LSTM(
                LM["emsize"], LM["emsize"], LM["layers"], dropout=LM["dropout"], batch_first=True
            )
            self.decoder = tnn.Linear(LM["emsize"], vocab)
            self.decoder.weight = self.encoder.weight

        def forward(self, x, h):
            out, h = self.rnn(self.drop(self.encoder(x)), h)
            return self.decoder(self.drop(out)), h

    model = Model()
    state = {k: torch.from_numpy(v) for k, v in weights.items()}
    model.load_state_dict(state, strict=True)

    def batches(stream, bsz):
        n = len(stream) // bsz
        s = torch.from_numpy(stream[: n * bsz].reshape(bsz, n))
        for i in range(0, n - 1, LM["bptt"]):
            j = min(i + LM["bptt"], n - 1)
            yield s[:, i:j], s[:, i + 1 : j + 1]

    results = {}
    for _ in range(data_epochs(workdir)):
        model.train()
        h, count, t0 = None, 0, time.perf_counter()
        for x, y in batches(data["train"], LM["batch"]):
            h = None if h is None else tuple(t.detach() for t in h)
            logits, h = model(x, h)
            loss = tF.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
            model.zero_grad()
            loss.backward()
            tnn.utils.clip_grad_norm_(model.parameters(), LM["clip"])
            with torch.no_grad():
                for p in model.parameters():
                    p -= LM["lr"] * p.grad
            count += y.numel()
        results["tokens_per_s"] = count / (time.perf_counter() - t0)
    model.eval()
    total = n = 0
    h = None
    with torch.no_grad():
        for x, y in batches(data["valid"], 10):
            logits, h = model(x, h)
            total += tF.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1)).item() * y.numel()
            n += y.numel()
    results["valid_ppl"] = float(np.exp(total / n))
    return results


def data_epochs(workdir: str) -> int:
    with open(os.path.join(workdir, "meta.json")) as f:
        return json.load(f)["epochs"]


def torch_minilm(workdir: str, threads: int) -> dict:
    """Sentences/s of the reference implementation."""
    import torch

    torch.set_num_threads(threads)
    with open(os.path.join(workdir, "minilm.json")) as f:
        job = json.load(f)
    sentences, model_dir = job["sentences"], job["model_dir"]
    try:
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(model_dir, device="cpu")

        def encode(batch):
            return st.encode(batch, batch_size=32, convert_to_numpy=True)

        impl = "sentence-transformers"
    except ImportError:
        from transformers import AutoModel, AutoTokenizer

        tok, bert = AutoTokenizer.from_pretrained(model_dir), AutoModel.from_pretrained(model_dir)
        bert.eval()

        def encode(batch):
            out = []
            with torch.no_grad():
                for i in range(0, len(batch), 32):
                    b = tok(
                        batch[i : i + 32],
                        padding=True,
                        truncation=True,
                        max_length=256,
                        return_tensors="pt",
                    )
                    h = bert(**b).last_hidden_state
                    m = b["attention_mask"].unsqueeze(-1).float()
                    e = (h * m).sum(1) / m.sum(1)
                    out.append(torch.nn.functional.normalize(e, dim=1).numpy())
            return np.concatenate(out)

        impl = "transformers"
    encode(sentences[:32])
    t0 = time.perf_counter()
    emb = encode(sentences)
    dt = time.perf_counter() - t0
    np.save(os.path.join(workdir, "torch_emb.npy"), emb)
    return {"sentences_per_s": len(sentences) / dt, "impl": impl}


# ---------------------------------------------------------------------------- ember side
def ember_lm(args, workdir: str) -> dict:
    sys.path.insert(0, EXAMPLES)
    import lstm_language_model as L

    import ember
    from ember.text.models import LSTMLanguageModel

    ember.manual_seed(0)
    vocab, train, valid, _ = L.load_corpus(10_000, args.lm_tokens)
    model = LSTMLanguageModel(
        len(vocab), LM["emsize"], LM["emsize"], LM["layers"], LM["dropout"], True
    )
    np.save(os.path.join(workdir, "train.npy"), train)
    np.save(os.path.join(workdir, "valid.npy"), valid)
    np.savez(
        os.path.join(workdir, "weights.npz"),
        **{k: v.detach().numpy() for k, v in model.state_dict().items()},
    )
    with open(os.path.join(workdir, "meta.json"), "w") as f:
        json.dump({"epochs": args.lm_epochs}, f)
    ns = argparse.Namespace(batch_size=LM["batch"], bptt=LM["bptt"], clip=LM["clip"])
    tps = 0.0
    for _ in range(args.lm_epochs):
        _, tps = L.train_epoch(model, train, ns, LM["lr"])
    return {
        "tokens_per_s": tps,
        "valid_ppl": L.evaluate(model, valid, 10, LM["bptt"]),
        "vocab": len(vocab),
    }


def ember_sentiment() -> dict:
    sys.path.insert(0, EXAMPLES)
    import sentiment_classifier as S

    out = {}
    for model, epochs in (("bag", 5), ("lstm", 3)):
        t0 = time.perf_counter()
        r = S.main(["--model", model, "--epochs", str(epochs)])
        out[model] = {
            "accuracy": r["accuracy"],
            "train_s": r["train_s"],
            "total_s": time.perf_counter() - t0,
            "epochs": epochs,
        }
    return out


def ember_minilm(args, workdir: str) -> dict:
    sys.path.insert(0, EXAMPLES)
    from _text_corpora import minilm_dir, rotten_tomatoes

    from ember.text.models import SentenceEncoder

    sentences = [t for _, t in rotten_tomatoes()[: args.sentences]]
    model_dir = minilm_dir()
    with open(os.path.join(workdir, "minilm.json"), "w") as f:
        json.dump({"sentences": sentences, "model_dir": model_dir}, f)
    enc = SentenceEncoder.from_pretrained(model_dir)
    enc.encode(sentences[:32])
    t0 = time.perf_counter()
    emb = enc.encode(sentences, batch_size=32, convert_to_numpy=True)
    dt = time.perf_counter() - t0
    np.save(os.path.join(workdir, "ember_emb.npy"), emb)
    return {"sentences_per_s": len(sentences) / dt}


def run_torch(args, worker: str, workdir: str) -> dict | None:
    if not args.torch_python:
        return None
    cmd = [
        args.torch_python,
        __file__,
        "--worker",
        worker,
        "--workdir",
        workdir,
        "--threads",
        str(args.threads),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        print(f"torch {worker} failed:\n{done.stderr[-2000:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    args = ARGS
    if args.worker:
        fn = {"lm": torch_lm, "minilm": torch_minilm}[args.worker]
        print(json.dumps(fn(args.workdir, args.threads)))
        return
    print(f"threads={args.threads}, torch python: {args.torch_python or 'none'}")
    with tempfile.TemporaryDirectory() as workdir:
        if "lm" in args.only:
            e = ember_lm(args, workdir)
            t = run_torch(args, "lm", workdir)
            print(
                f"\nLSTM LM, Wikipedia (gensim), vocab {e['vocab']}, "
                f"{args.lm_tokens} train tokens, {args.lm_epochs} epoch(s)"
            )
            print(f"  ember : valid ppl {e['valid_ppl']:8.1f}   {e['tokens_per_s']:8.0f} tokens/s")
            if t:
                print(
                    f"  torch : valid ppl {t['valid_ppl']:8.1f}   {t['tokens_per_s']:8.0f} tokens/s"
                )
                print(f"  ember/torch throughput: {e['tokens_per_s'] / t['tokens_per_s']:.2f}x")
        if "sentiment" in args.only:
            s = ember_sentiment()
            print("\nRotten Tomatoes sentiment (ember; 10,246 train / 2,562 test)")
            for name, r in s.items():
                print(
                    f"  {name:5s}: accuracy {r['accuracy']:.3f}, {r['epochs']} epochs, "
                    f"train {r['train_s']:.1f}s, total {r['total_s']:.1f}s"
                )
        if "minilm" in args.only:
            e = ember_minilm(args, workdir)
            t = run_torch(args, "minilm", workdir)
            print(f"\nall-MiniLM-L6-v2, {args.sentences} Rotten Tomatoes snippets, batch 32")
            print(f"  ember : {e['sentences_per_s']:7.1f} sentences/s")
            if t:
                diff = np.abs(
                    np.load(os.path.join(workdir, "ember_emb.npy"))
                    - np.load(os.path.join(workdir, "torch_emb.npy"))
                ).max()
                print(
                    f"  torch : {t['sentences_per_s']:7.1f} sentences/s ({t['impl']}); "
                    f"max |diff| {diff:.2e}"
                )
                print(
                    f"  ember/torch throughput: {e['sentences_per_s'] / t['sentences_per_s']:.2f}x"
                )


if __name__ == "__main__":
    main()
