"""``python -m ember.hub``: download into the cache and inspect or clean it.

python -m ember.hub download URL [--sha256 H] [--md5 H] [-o DIR] [--name FILE]
python -m ember.hub ls
python -m ember.hub rm NAME [NAME ...]   |   python -m ember.hub rm --all
python -m ember.hub dir
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from urllib.parse import unquote, urlparse

from ember.hub import _cache
from ember.hub._download import DownloadError, HashMismatchError, download_url_to_file
from ember.hub._lock import FileLock
from ember.hub._progress import format_size


class _CliError(Exception):
    """A user error: printed without a traceback, exit status 1."""


def _entries() -> list[tuple[str, str]]:
    """(subdir, name) of every cached item; lock files are bookkeeping, not items."""
    root = _cache.get_dir()
    found = []
    for sub in _cache.SUBDIRS:
        d = os.path.join(root, sub)
        if os.path.isdir(d):
            found += [(sub, n) for n in sorted(os.listdir(d)) if not n.endswith(".lock")]
    return found


def _size(path: str) -> int:
    if not os.path.isdir(path) or os.path.islink(path):
        return os.lstat(path).st_size
    return sum(
        os.lstat(os.path.join(dirpath, f)).st_size
        for dirpath, _, files in os.walk(path)
        for f in files
    )


def _cmd_download(args: argparse.Namespace) -> None:
    name = args.name or os.path.basename(unquote(urlparse(args.url).path))
    if not name:
        raise _CliError(f"cannot name the file after {args.url!r}; pass --name")
    out = args.output or _cache.subdir("checkpoints")
    try:
        path = download_url_to_file(
            args.url,
            os.path.join(out, name),
            progress=not args.no_progress,
            sha256=args.sha256,
            md5=args.md5,
        )
    except (DownloadError, HashMismatchError, ValueError) as e:
        raise _CliError(str(e)) from e
    print(path)


def _cmd_ls(args: argparse.Namespace) -> None:
    root = _cache.get_dir()
    entries = _entries()
    if not entries:
        print(f"{root}: empty")
        return
    total = 0
    for sub, name in entries:
        size = _size(os.path.join(root, sub, name))
        total += size
        note = "  (incomplete download)" if name.endswith(".partial") else ""
        print(f"{format_size(size):>10}  {sub}/{name}{note}")
    print(f"{format_size(total):>10}  total in {root}")


def _resolve(name: str) -> tuple[str, str]:
    """``'checkpoints/x.pth'`` or a unique ``'x.pth'`` -> (subdir, name)."""
    sub, sep, base = name.rpartition("/")
    if sep and (sub not in _cache.SUBDIRS or base in ("", ".", "..")):
        raise _CliError(f"expected NAME or <{'|'.join(_cache.SUBDIRS)}>/NAME, got {name!r}")
    wanted = {base, base.removesuffix(".partial")}
    matches = [(s, n) for s, n in _entries() if n in wanted and (not sep or s == sub)]
    matches = sorted({(s, n.removesuffix(".partial")) for s, n in matches})
    if not matches:
        raise _CliError(f"{name!r} is not in the cache at {_cache.get_dir()} (see 'ls')")
    if len(matches) > 1:
        both = ", ".join(f"{s}/{n}" for s, n in matches)
        raise _CliError(f"{name!r} is ambiguous: {both}; name the subdirectory")
    return matches[0]


def _remove(sub: str, name: str) -> None:
    """Remove a cached item and its partial download, holding its lock."""
    path = os.path.join(_cache.get_dir(), sub, name.removesuffix(".partial"))
    try:
        # A download in progress holds this lock; don't pull files from under it.
        with FileLock(path + ".lock", timeout=5):
            for p in (path, path + ".partial"):
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p)
                elif os.path.lexists(p):
                    os.remove(p)
    except TimeoutError as e:
        raise _CliError(f"{sub}/{name} is being downloaded by another process") from e
    print(f"removed {sub}/{name}")


def _cmd_rm(args: argparse.Namespace) -> None:
    if args.all == bool(args.names):
        raise _CliError("give NAMEs to remove, or --all (not both)")
    if args.all:
        items = sorted({(s, n.removesuffix(".partial")) for s, n in _entries()})
    else:
        items = [_resolve(n) for n in args.names]
    for sub, name in items:
        _remove(sub, name)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ember.hub", description=__doc__.split("\n")[0])
    cmds = p.add_subparsers(dest="command", required=True)
    d = cmds.add_parser("download", help="download URL (into the cache by default)")
    d.add_argument("url")
    d.add_argument("--sha256", help="expected SHA-256 hex digest")
    d.add_argument("--md5", help="expected MD5 hex digest")
    d.add_argument("-o", "--output", help="directory (default: <cache>/checkpoints)")
    d.add_argument("--name", help="file name (default: the URL's last path segment)")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")
    d.set_defaults(func=_cmd_download)
    ls = cmds.add_parser("ls", help="list the cache's contents with sizes")
    ls.set_defaults(func=_cmd_ls)
    rm = cmds.add_parser("rm", help="remove cached items")
    rm.add_argument("names", nargs="*", metavar="NAME", help="item, as shown by ls")
    rm.add_argument("--all", action="store_true", help="empty the cache")
    rm.set_defaults(func=_cmd_rm)
    dr = cmds.add_parser("dir", help="print the cache directory")
    dr.set_defaults(func=lambda args: print(_cache.get_dir()))
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        args.func(args)
    except _CliError as e:
        print(f"ember.hub: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
