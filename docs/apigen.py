"""Generate the API reference pages (``docs/api/*.rst``) from the installed packages.

The reference lists every public name of ember and of each installed ember
package: a module's ``__all__`` where it has one, otherwise its non-underscore
attributes that ember itself defines. Every name becomes one autodoc directive,
so its docstring is the documentation. ``conf.py`` runs this at the start of
each build (the pages always match the code); ``tests/test_docs.py`` runs it
too, to check that nothing public is left out and that everything has a
docstring.

    python docs/apigen.py [OUTDIR]     # default: docs/api
"""

from __future__ import annotations

import importlib
import inspect
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

# Package pages: distribution -> (title, the modules documented on its page, in order).
# Public child modules found in a documented module are added below their parent.
PACKAGES: dict[str, tuple[str, list[str]]] = {
    "core": (
        "ember (ember-core)",
        [
            "ember",
            "ember.linalg",
            "ember.random",
            "ember.cuda",
            "ember.serialization",
            "ember.testing",
            "ember.profiler",
            "ember.jit",
        ],
    ),
    "autograd": ("ember.autograd", ["ember.autograd"]),
    "nn": ("ember.nn", ["ember.nn"]),
    "optim": ("ember.optim", ["ember.optim"]),
    "data": ("ember.data", ["ember.data"]),
    "hub": ("ember.hub", ["ember.hub"]),
    "vision": ("ember.vision", ["ember.vision"]),
    "text": ("ember.text", ["ember.text"]),
    "distributed": ("ember.distributed", ["ember.distributed"]),
}

# Sections of the (large) top-level ``ember`` namespace, by defining module.
CORE_SECTIONS = [
    ("Tensors", ("ember._tensor", "ember._device")),
    ("Data types", ("ember._dtype", "ember._legacy")),
    ("Creation", ("ember._ops.creation",)),
    ("Random sampling", ("ember._ops.random_ops", "ember.random")),
    (
        "Indexing, slicing, joining",
        ("ember._ops.index", "ember._ops.shape", "ember._ops.shape_ext"),
    ),
    ("Math", ("ember._ops.math", "ember._ops.math_ext")),
    ("Reductions", ("ember._ops.reduce",)),
    ("Sorting and searching", ("ember._ops.sort",)),
    ("Linear algebra", ("ember._ops.linalg", "ember._ops.linalg_ext", "ember._ops.linalg_struct")),
    ("Gradient modes (from ember-autograd)", ("ember.autograd",)),
    ("Serialization", ("ember.serialization",)),
]


@dataclass
class Entry:
    """One public name: ``module.name`` and the autodoc directive that documents it."""

    module: str
    name: str
    directive: str  # autofunction, autoclass, autodata, automodule
    obj: object = field(repr=False, default=None)

    @property
    def qualname(self) -> str:
        """The dotted name users spell, e.g. ``ember.nn.Linear``."""
        return f"{self.module}.{self.name}"


@dataclass
class ModuleDoc:
    """A documented module: its public entries and the errors found while listing them."""

    name: str
    entries: list[Entry]
    errors: list[str]


def _defining_module(obj: object) -> str:
    mod = getattr(obj, "__module__", None)
    if not isinstance(mod, str):
        mod = type(obj).__module__
    return mod


def directive_for(obj: object) -> str:
    """The autodoc directive for ``obj``."""
    if isinstance(obj, types.ModuleType):
        return "automodule"
    if inspect.isclass(obj):
        if issubclass(obj, BaseException):
            return "autoexception"
        return "autoclass"
    if callable(obj) and (inspect.isroutine(obj) or hasattr(obj, "__wrapped__")):
        return "autofunction"
    return "autodata"


def public_names(mod: types.ModuleType) -> tuple[list[str], bool]:
    """The public names of ``mod`` and whether they come from ``__all__``."""
    explicit = getattr(mod, "__all__", None)
    if explicit is not None:
        return list(explicit), True
    # Without __all__, what the module (or its private submodules) defines is public;
    # names it imported from elsewhere are not (the top-level ``ember`` takes all).
    prefix = mod.__name__
    names = []
    for n in sorted(vars(mod)):
        if n.startswith("_"):
            continue
        obj = vars(mod)[n]
        if isinstance(obj, types.ModuleType):
            if obj.__name__ == f"{mod.__name__}.{n}":
                names.append(n)  # a true child module (ember.nn.functional)
            continue
        owner = _defining_module(obj)
        if owner == prefix or owner.startswith(prefix + "."):
            names.append(n)
    return names, False


def document_module(modname: str, seen: set[int], dedupe: bool = False) -> list[ModuleDoc]:
    """``modname``'s entries, then those of its public child modules, recursively.

    ``seen`` holds the ids of objects already documented. A child module found in
    a parent without ``__all__`` (``dedupe``) lists only what is new: implementation
    modules (``ember.nn.modules``) re-export the parent's classes, and a module
    with nothing new is left out.
    """
    try:
        mod = importlib.import_module(modname)
    except Exception as exc:  # noqa: BLE001 - a broken module is reported, not fatal
        return [ModuleDoc(modname, [], [f"{modname}: cannot import ({exc!r})"])]
    names, explicit = public_names(mod)
    entries, errors, children = [], [], []
    mine: set[int] = set()  # aliases inside one module (float32/float) are all listed
    for n in names:
        try:
            obj = getattr(mod, n)
        except Exception as exc:  # noqa: BLE001 - e.g. a lazy submodule that fails
            errors.append(f"{modname}.{n} is public (__all__) but cannot be resolved: {exc}")
            continue
        if isinstance(obj, types.ModuleType):
            if modname == "ember" or obj.__name__.split(".")[:2] != modname.split(".")[:2]:
                continue  # ember.nn etc. have pages of their own
            children.append((obj.__name__, not explicit))
            continue
        if (dedupe or not explicit) and id(obj) in seen and id(obj) not in mine:
            continue
        if id(obj) not in seen:
            mine.add(id(obj))
        seen.add(id(obj))
        entries.append(Entry(modname, n, directive_for(obj), obj))
    out = [ModuleDoc(modname, entries, errors)]
    for child, child_dedupe in children:
        sub = document_module(child, seen, child_dedupe)
        out.extend(d for d in sub if d.entries or d.errors or not child_dedupe)
    return out


def installed_packages() -> list[str]:
    """The ember distributions importable here (core always is)."""
    found = []
    for pkg, (_title, mods) in PACKAGES.items():
        try:
            importlib.import_module(mods[0])
        except ModuleNotFoundError as exc:
            if exc.name == mods[0]:
                continue  # not installed
        except Exception:  # noqa: BLE001, S110 - installed but broken: collect() reports it
            pass
        found.append(pkg)
    return found


def collect(pkg: str) -> list[ModuleDoc]:
    """Every documented module of one package, in page order."""
    seen: set[int] = set()
    docs: list[ModuleDoc] = []
    for m in PACKAGES[pkg][1]:
        docs.extend(document_module(m, seen))
    return docs


def _heading(text: str, char: str) -> str:
    return f"{text}\n{char * len(text)}\n"


def _secondary_classes(everything: list[ModuleDoc]) -> set[str]:
    """Qualified names of classes also documented under a better name.

    Sphinx files a class under its defining module too, so one class documented
    twice (``ember.no_grad`` and ``ember.autograd.no_grad``) is a duplicate; the
    name nearest to where the class is defined keeps the index entry.
    """
    best: dict[int, Entry] = {}
    entries = [e for d in everything for e in d.entries if inspect.isclass(e.obj)]

    def closeness(e: Entry) -> int:
        owner = _defining_module(e.obj)
        return len(e.module) if owner == e.module or owner.startswith(e.module + ".") else 0

    for e in entries:
        if id(e.obj) not in best or closeness(e) > closeness(best[id(e.obj)]):
            best[id(e.obj)] = e
    return {e.qualname for e in entries if best[id(e.obj)] is not e}


_NO_INDEX: set[str] = set()


def _directive(e: Entry) -> str:
    opts = "   :no-index:\n" if e.qualname in _NO_INDEX else ""
    if e.directive == "autoclass":
        opts += "   :members:\n"
        if e.qualname == "ember.Tensor":
            opts = "   :members: " + ", ".join(tensor_own_members()) + "\n"
    if e.directive == "autodata":
        opts += "   :annotation:\n"
    return f".. {e.directive}:: {e.qualname}\n{opts}\n"


def tensor_own_members() -> list[str]:
    """Tensor's own documented methods and properties (not the ops bound onto it)."""
    import ember

    own = []
    for n, v in vars(ember.Tensor).items():
        if n.startswith("_"):
            continue
        f = v.fget if isinstance(v, property) else v
        if getattr(f, "__module__", "").startswith("ember._tensor") and inspect.getdoc(f):
            own.append(n)
    return sorted(own)


def _tensor_methods_list() -> str:
    import ember

    own = set(tensor_own_members())
    ops = sorted(
        n
        for n, v in vars(ember.Tensor).items()
        if not n.startswith("_") and n not in own and callable(v) and hasattr(ember, n)
    )
    links = ", ".join(f":func:`~ember.{n}`" for n in ops)
    return (
        "Methods that are ops (``x.add(y)`` is ``ember.add(x, y)``; a trailing ``_`` is the "
        f"in-place form): {links}\n\n"
    )


def render_module(doc: ModuleDoc) -> str:
    """The reST for one module: its docstring, then one directive per public name."""
    text = _heading(f"``{doc.name}``", "-")
    text += f"\n.. automodule:: {doc.name}\n   :no-members:\n\n"
    if doc.name != "ember":
        return text + "".join(_directive(e) for e in doc.entries)
    by_owner: dict[str, list[Entry]] = {}
    for e in doc.entries:
        owner = _defining_module(e.obj)
        for title, prefixes in CORE_SECTIONS:
            if any(owner == p or owner.startswith(p + ".") for p in prefixes):
                by_owner.setdefault(title, []).append(e)
                break
        else:
            by_owner.setdefault("Other", []).append(e)
    for title, _ in [*CORE_SECTIONS, ("Other", ())]:
        entries = by_owner.get(title)
        if not entries:
            continue
        text += "\n" + _heading(title, "~")
        for e in entries:
            text += "\n" + _directive(e)
            if e.qualname == "ember.Tensor":
                text += _tensor_methods_list()
    return text


def generate(outdir: Path) -> dict[str, list[ModuleDoc]]:
    """Write ``api/index.rst`` and one page per installed package; return what was listed.

    Public names that could not be resolved are listed in each ``ModuleDoc.errors``.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    result: dict[str, list[ModuleDoc]] = {}
    for pkg in installed_packages():
        result[pkg] = collect(pkg)
    _NO_INDEX.clear()
    _NO_INDEX.update(_secondary_classes([d for docs in result.values() for d in docs]))
    for pkg, docs in result.items():
        title = PACKAGES[pkg][0]
        page = f".. Generated by docs/apigen.py; do not edit.\n\n{_heading(title, '=')}\n"
        page += "\n".join(render_module(d) for d in docs if d.entries or d.name in PACKAGES[pkg][1])
        _write_if_changed(outdir / f"{pkg}.rst", page)
    for pkg in PACKAGES:
        if pkg not in result:  # keep the package pages' links working; say what is missing
            title = PACKAGES[pkg][0]
            stub = f"{_heading(title, '=')}\nember-{pkg} was not installed when these pages "
            stub += f"were built: ``pip install ember-{pkg}`` and rebuild.\n"
            _write_if_changed(outdir / f"{pkg}.rst", ".. Generated by docs/apigen.py.\n\n" + stub)
    toc = "\n".join(f"   {p}" for p in PACKAGES)
    index = (
        ".. Generated by docs/apigen.py; do not edit.\n\n"
        + _heading("API reference", "=")
        + "\nEvery public name of every installed ember package, from its docstring.\n\n"
        + f".. toctree::\n   :maxdepth: 2\n\n{toc}\n"
    )
    _write_if_changed(outdir / "index.rst", index)
    return result


def _write_if_changed(path: Path, text: str) -> None:
    # Unchanged pages keep their mtime, so Sphinx does not re-read them.
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "api"
    listed = generate(out)
    for err in (e for docs in listed.values() for d in docs for e in d.errors):
        print("error:", err, file=sys.stderr)
    n = sum(len(d.entries) for docs in listed.values() for d in docs)
    print(f"{n} public names in {len(listed)} packages -> {out}")
