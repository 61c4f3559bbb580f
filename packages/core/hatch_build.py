"""Hatchling build hook: compile ember's C kernels into ``ember._C._lib`` with cffi.

The builder script is loaded by path (never by importing ``ember``, which is
not importable before its extension exists). Any compile error fails the build.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CffiBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        builder_path = root / "src" / "ember" / "_C" / "_build.py"
        spec = importlib.util.spec_from_file_location("_ember_cffi_build", builder_path)
        builder = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(builder)

        self._tmp = tempfile.mkdtemp(prefix="ember-build-")
        so_path = Path(builder.build(self._tmp))
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        target = f"ember/_C/{so_path.name}"
        if version == "editable":
            # Editable installs import from src/: put the library there. Copy then rename,
            # so a process that has the old library mapped keeps a valid file.
            dest = root / "src" / target
            tmp = dest.with_suffix(".tmp")
            shutil.copy2(so_path, tmp)
            os.replace(tmp, dest)
        else:
            build_data["force_include"][str(so_path)] = target
        self._build_cuda(root, version, build_data)

    def _build_cuda(self, root: Path, version: str, build_data: dict) -> None:
        """Prebuild the CUDA kernels into a fatbin when nvcc is present (see _build_cuda.py);
        without nvcc the wheel ships only the sources and NVRTC compiles them at first use."""
        path = root / "src" / "ember" / "_C" / "_build_cuda.py"
        spec = importlib.util.spec_from_file_location("_ember_cuda_build", path)
        cuda = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(cuda)
        fatbin = cuda.compile_cuda(self._tmp)  # raises when nvcc fails
        target = f"ember/_C/cuda/{cuda.FATBIN_NAME}"
        dest = root / "src" / target
        if fatbin is None:
            if version == "editable" and dest.exists():
                dest.unlink()  # a stale fatbin must not outlive the sources it came from
            return
        if version == "editable":
            tmp = dest.with_suffix(".tmp")
            shutil.copy2(fatbin, tmp)
            os.replace(tmp, dest)
        else:
            build_data["force_include"][str(fatbin)] = target

    def finalize(self, version: str, build_data: dict, artifact_path: str) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
