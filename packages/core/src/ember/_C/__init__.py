"""ember's compiled kernel library (``ember._C._lib``, built by cffi at install time)."""

try:
    from ember._C._lib import ffi, lib
except ImportError as exc:  # pragma: no cover - only on a broken install
    raise ImportError(
        "ember's C kernel library (ember._C._lib) is missing: ember-core must be installed "
        "with `pip install packages/core` (or -e) so its build hook compiles it"
    ) from exc

__all__ = ["ffi", "lib"]
