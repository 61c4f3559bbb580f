"""A byte progress bar: tqdm when installed, else a small one of our own.

Both draw only when the stream is a terminal, so logs and CI output stay clean.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import IO, Protocol


class Bar(Protocol):
    """What the downloader needs from a progress bar."""

    def update(self, n: int) -> object: ...

    def close(self) -> object: ...


def format_size(n: float) -> str:
    """``1536`` -> ``'1.5KiB'``: a byte count in binary units, about 3 significant digits."""
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    for unit in units:
        # 1023.5 rounds up to 1024: show it as 1KiB rather than 1024B.
        if abs(n) < 1023.5 or unit == units[-1]:
            if unit == "B" or abs(n) >= 99.95:
                return f"{n:.0f}{unit}"
            return f"{n:.3g}{unit}"
        n /= 1024
    raise AssertionError("unreachable")


def format_time(seconds: float) -> str:
    """``75`` -> ``'01:15'``, ``3725`` -> ``'1:02:05'``."""
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class ProgressBar:
    """A tqdm-style bar for byte counts: percentage, bar, done/total, elapsed, ETA, rate.

    Args:
        total: expected bytes, or ``None`` when unknown (then no bar or ETA).
        desc: a label drawn before the bar.
        initial: bytes already done (a resumed download).
        stream: where to draw; default ``sys.stderr``.
        disable: force the bar off; it is also off when ``stream`` is not a terminal.
        min_interval: seconds between redraws, so a fast download is not slowed
            by drawing.
    """

    def __init__(
        self,
        total: int | None = None,
        desc: str = "",
        initial: int = 0,
        stream: IO[str] | None = None,
        disable: bool = False,
        min_interval: float = 0.1,
    ) -> None:
        self.total = total
        self.desc = desc
        self.n = initial
        self.stream = sys.stderr if stream is None else stream
        isatty = getattr(self.stream, "isatty", None)
        self.disable = disable or not (isatty is not None and isatty())
        self.min_interval = min_interval
        self._initial = initial
        self._start = time.monotonic()
        self._last_draw = -float("inf")
        self._closed = False

    def update(self, n: int) -> None:
        """Count ``n`` more bytes, redrawing at most every ``min_interval`` seconds."""
        self.n += n
        now = time.monotonic()
        if not self.disable and now - self._last_draw >= self.min_interval:
            self._last_draw = now
            self._draw(now)

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self._closed:
            return
        self._closed = True
        if not self.disable:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()

    def render(self, now: float | None = None) -> str:
        """The bar's text at time ``now`` (``time.monotonic()`` by default)."""
        now = time.monotonic() if now is None else now
        elapsed = max(now - self._start, 1e-9)
        rate = (self.n - self._initial) / elapsed
        prefix = f"{self.desc}: " if self.desc else ""
        rate_s = f"{format_size(rate)}/s"
        if not self.total:
            return f"{prefix}{format_size(self.n)} [{format_time(elapsed)}, {rate_s}]"
        frac = min(self.n / self.total, 1.0)
        eta = format_time((self.total - self.n) / rate) if rate > 0 else "?"
        right = (
            f" {format_size(self.n)}/{format_size(self.total)}"
            f" [{format_time(elapsed)}<{eta}, {rate_s}]"
        )
        left = f"{prefix}{frac * 100:3.0f}%|"
        width = max(shutil.get_terminal_size((80, 20)).columns - len(left) - len(right) - 2, 10)
        filled = int(frac * width)
        return f"{left}{'#' * filled}{' ' * (width - filled)}|{right}"

    def _draw(self, now: float) -> None:
        self.stream.write("\r" + self.render(now))
        self.stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_bar(total: int | None, desc: str, initial: int = 0, enabled: bool = True) -> Bar:
    """A byte progress bar on stderr: tqdm's if installed, else :class:`ProgressBar`.

    Silent when ``enabled`` is false or stderr is not a terminal.
    """
    disable = not enabled or not sys.stderr.isatty()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return ProgressBar(total=total, desc=desc, initial=initial, disable=disable)
    return tqdm(
        total=total,
        desc=desc,
        initial=initial,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=disable,
    )
