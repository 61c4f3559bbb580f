"""An inter-process lock on a file, so concurrent downloaders take turns.

``fcntl.flock`` locks belong to the open file description, so the lock also
works between threads of one process (each acquire opens the file anew), and
the kernel drops it when the holder dies, even by SIGKILL: a crashed
downloader never leaves a stale lock behind. The lock file itself is left in
place; deleting it while another process waits on it would let a third
process lock a fresh file and run alongside the second.
"""

from __future__ import annotations

import fcntl
import os
import time


class FileLock:
    """An exclusive lock on ``path`` (created if missing), usable as ``with FileLock(p):``.

    Args:
        path: the lock file, conventionally the protected file's path plus ``.lock``.
        timeout: seconds to wait before raising :class:`TimeoutError`; ``None``
            waits for ever.
    """

    def __init__(self, path: str | os.PathLike[str], timeout: float | None = None) -> None:
        self.path = os.fspath(path)
        self.timeout = timeout
        self._fd: int | None = None

    def acquire(self) -> None:
        """Block until this process holds the lock."""
        if self._fd is not None:
            raise RuntimeError(f"FileLock({self.path!r}) is already held by this object")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if self.timeout is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:
                self._poll(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _poll(self, fd: int) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"could not lock {self.path!r} within {self.timeout} s; another "
                        "process is holding it (probably downloading the same file)"
                    ) from None
                time.sleep(0.05)

    def release(self) -> None:
        """Release the lock (closing the descriptor releases it)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        os.close(fd)

    @property
    def locked(self) -> bool:
        """Whether this object currently holds the lock."""
        return self._fd is not None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
