"""Extracting a repository archive without letting it write outside its folder."""

from __future__ import annotations

import os
import stat
import zipfile


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the extraction folder."""


def _member_parts(name: str) -> tuple[str, ...]:
    """The path components of member ``name``, refusing any that escape the archive."""
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute or Windows path")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise UnsafeArchiveError(f"archive member {name!r} points outside the archive ('..')")
    return parts


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    # Unix zip tools keep st_mode in the high 16 bits of external_attr.
    return stat.S_ISLNK(info.external_attr >> 16)


def safe_extract(archive: str | os.PathLike[str], root: str | os.PathLike[str]) -> None:
    """Extract the zip file ``archive`` into the directory ``root``.

    Members with absolute paths or ``..`` components are refused, and so are
    symlinks whose target resolves outside ``root`` and members placed under
    a symlink (which could lead anywhere); safe symlinks are recreated as
    symlinks. Raises :class:`UnsafeArchiveError` before writing
    anything when a member is unsafe.
    """
    root = os.path.realpath(os.fspath(root))
    os.makedirs(root, exist_ok=True)
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        links: dict[str, str] = {}
        link_parts = {_member_parts(i.filename) for i in infos if _is_symlink(i)}
        # Check every member first so a bad archive writes nothing.
        for info in infos:
            parts = _member_parts(info.filename)
            if any(parts[:i] in link_parts for i in range(1, len(parts))):
                raise UnsafeArchiveError(f"archive member {info.filename!r} lies under a symlink")
            target = os.path.join(root, *parts)
            if _is_symlink(info):
                link = zf.read(info).decode("utf-8")
                resolved = os.path.normpath(os.path.join(os.path.dirname(target), link))
                if os.path.isabs(link) or os.path.commonpath([root, resolved]) != root:
                    raise UnsafeArchiveError(
                        f"archive member {info.filename!r} is a symlink to {link!r}, "
                        "outside the archive"
                    )
                links[info.filename] = link
        for info in infos:
            target = os.path.join(root, *_member_parts(info.filename))
            if info.filename in links:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.symlink(links[info.filename], target)
            elif info.is_dir():
                os.makedirs(target, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
