"""safe_extract: archives cannot write outside their folder."""

from __future__ import annotations

import os
import stat
import zipfile

import pytest

from ember.hub._zip import UnsafeArchiveError, safe_extract


def _make(path, members):
    """members: (name, text) for files, (name, None) for dirs, (name, ('link', target))."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in members:
            if isinstance(content, tuple):
                info = zipfile.ZipInfo(name)
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, content[1])
            elif content is None:
                zf.writestr(name if name.endswith("/") else name + "/", "")
            else:
                zf.writestr(name, content)
    return path


def test_normal_archive_with_inner_symlink(tmp_path):
    z = _make(
        tmp_path / "ok.zip",
        [("top/", None), ("top/a/b.txt", "hello"), ("top/link", ("link", "a/b.txt"))],
    )
    out = tmp_path / "out"
    safe_extract(z, out)
    assert (out / "top/a/b.txt").read_text() == "hello"
    assert os.readlink(out / "top/link") == "a/b.txt"
    assert (out / "top/link").read_text() == "hello"


@pytest.mark.parametrize(
    "members, match",
    [
        ([("../evil.txt", "x")], r"'\.\.'"),
        ([("top/../../evil.txt", "x")], r"'\.\.'"),
        ([("/abs/evil.txt", "x")], "absolute"),
        ([("C:/evil.txt", "x")], "absolute"),
        ([("top\\..\\evil.txt", "x")], "Windows"),
        ([("top/out", ("link", "../../evil"))], "symlink"),
        ([("top/out", ("link", "/etc"))], "symlink"),
        ([("top/d", ("link", ".")), ("top/d/x", ("link", ".."))], "under a symlink"),
        ([("top/d", ("link", "sub")), ("top/d/f.txt", "x")], "under a symlink"),
    ],
)
def test_unsafe_members_are_refused_before_writing(tmp_path, members, match):
    z = _make(tmp_path / "bad.zip", [("top/fine.txt", "ok"), *members])
    out = tmp_path / "deep" / "out"
    with pytest.raises(UnsafeArchiveError, match=match):
        safe_extract(z, out)
    assert os.listdir(out) == []  # nothing extracted, not even the fine member
    assert sorted(os.listdir(tmp_path)) == ["bad.zip", "deep"]
