"""A pickle interpreter that can only build plain data.

Python's own ``Unpickler`` will call any callable a pickle names; restricting it
with ``find_class`` alone is what PyTorch's ``weights_only`` loader did, and it
was bypassed twice (CVE-2025-32434, CVE-2026-24747) through opcodes that act on
objects already on the stack. This interpreter is written from the pickle
specification instead, so every opcode's effect is visible here:

- ``GLOBAL``/``STACK_GLOBAL`` go through :meth:`find_class`, which a subclass
  answers from an explicit allowlist; anything else is refused by name.
- ``REDUCE`` calls only objects that :meth:`find_class` returned *and* that the
  subclass lists in :attr:`callables` (ember's own pure rebuilding functions).
- ``INST``, ``OBJ``, ``NEWOBJ``, ``NEWOBJ_EX`` (instantiate an arbitrary class),
  ``EXT1``/``EXT2``/``EXT4`` (the process-wide extension registry) and the
  out-of-band buffer opcodes are refused outright.
- ``APPEND(S)``, ``SETITEM(S)``, ``ADDITEMS`` mutate only real ``list``, ``dict``
  (or ``OrderedDict``) and ``set`` objects, with keys of plain immutable types,
  so no user-defined ``__setitem__``, ``__hash__`` or ``extend`` ever runs.
- ``BUILD`` is delegated to :meth:`build`, which refuses by default.

The pickle is interpreted twice: a checking pass that resolves every global and
validates every opcode while calling nothing, then the real pass. So a refused
global stops the load before any allowlisted function has run either.
"""

from __future__ import annotations

import codecs
import collections
import struct

from ._errors import CheckpointError, UnpicklingError

__all__ = ["RestrictedUnpickler", "DEFERRED"]


class _Deferred:
    """Stands for a call's result during the checking pass."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<deferred>"


DEFERRED = _Deferred()
_MARK = object()
_PLAIN_KEYS = (str, int, float, bool, bytes, type(None))
_LINE_LIMIT = 1 << 16  # text-protocol lines (ints, names) are short
_U8, _U32, _U64, _I32 = (
    struct.Struct("<B"),
    struct.Struct("<I"),
    struct.Struct("<Q"),
    struct.Struct("<i"),
)
_U16, _F64 = struct.Struct("<H"), struct.Struct(">d")

# Opcodes refused whatever the allowlist says, with the reason.
_REFUSED = {
    ord("i"): "INST (instantiates a class)",
    ord("o"): "OBJ (instantiates a class)",
    0x81: "NEWOBJ (instantiates a class)",
    0x92: "NEWOBJ_EX (instantiates a class)",
    0x82: "EXT1 (extension registry)",
    0x83: "EXT2 (extension registry)",
    0x84: "EXT4 (extension registry)",
    0x97: "NEXT_BUFFER (out-of-band buffer)",
    0x98: "READONLY_BUFFER (out-of-band buffer)",
}


class RestrictedUnpickler:
    """Interpret one pickle from ``data`` starting at byte ``start``.

    Subclasses override :meth:`find_class`, :meth:`persistent_load` and
    :meth:`build`, and fill :attr:`callables` with the objects ``REDUCE`` may call.
    """

    callables: frozenset[int] = frozenset()  # ids of objects REDUCE may call

    def __init__(self, data, start: int = 0, *, what: str = "pickle") -> None:
        # Any 1-D byte buffer (bytes, bytearray, a uint8 array): read through a view.
        self._data = memoryview(data).cast("B")
        self._start = start
        self.what = what

    # ----- hooks -----
    def find_class(self, module: str, name: str):
        """Resolve a global; the base class allows none."""
        raise UnpicklingError(f"{self.what}: global '{module}.{name}' is not allowed")

    def persistent_load(self, pid):
        """Resolve a persistent id; the base class allows none."""
        raise UnpicklingError(f"{self.what}: persistent id {pid!r} is not allowed")

    def check_persistent_id(self, pid) -> None:
        """Validate a persistent id during the checking pass (nothing is loaded)."""

    def build(self, inst, state) -> None:
        """Apply ``BUILD``'s ``state`` to ``inst``; the base class refuses."""
        raise UnpicklingError(f"{self.what}: BUILD on {type(inst).__name__} is not allowed")

    # ----- driver -----
    def load(self):
        """Return ``(object, end)``: the unpickled object and the byte after STOP."""
        self.check()
        return self._run(execute=True)

    def check(self) -> int:
        """The checking pass alone: validate everything, call nothing; returns the
        byte after STOP."""
        return self._run(execute=False)[1]

    def _run(self, execute: bool):
        self.execute = execute
        self.pos = self._start
        self.stack: list = []
        self.metastack: list = []
        self.memo: dict = {}
        data = self._data
        try:
            while True:
                if self.pos >= len(data):
                    raise UnpicklingError(f"{self.what}: truncated (no STOP opcode)")
                op = data[self.pos]
                self.pos += 1
                if op == 0x2E:  # STOP
                    return self._pop(), self.pos
                handler = _DISPATCH.get(op)
                if handler is None:
                    reason = _REFUSED.get(op, "unknown opcode")
                    raise UnpicklingError(
                        f"{self.what}: refused opcode {op:#04x} {reason} at byte {self.pos - 1}"
                    )
                handler(self)
        except (UnpicklingError, CheckpointError):
            raise
        except (
            IndexError,
            KeyError,
            TypeError,
            ValueError,
            OverflowError,
            struct.error,
            RecursionError,
            UnicodeDecodeError,
        ) as exc:
            raise UnpicklingError(
                f"{self.what}: malformed pickle near byte {self.pos}: {type(exc).__name__}: {exc}"
            ) from None

    # ----- reading -----
    def _read(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self._data):
            raise UnpicklingError(
                f"{self.what}: truncated: needs {n} bytes at byte {self.pos}, file ends at "
                f"{len(self._data)}"
            )
        chunk = bytes(self._data[self.pos : end])
        self.pos = end
        return chunk

    def _unpack(self, s: struct.Struct):
        return s.unpack(self._read(s.size))[0]

    def _line(self) -> bytes:
        # Look in a short window first: names and numbers are short, and copying the
        # full limit for every text opcode would let a file cost far more than its size.
        for window in (256, _LINE_LIMIT):
            chunk = bytes(self._data[self.pos : self.pos + window])
            end = chunk.find(b"\n")
            if end >= 0:
                self.pos += end + 1
                return chunk[:end]
        raise UnpicklingError(f"{self.what}: unterminated text line at byte {self.pos}")

    # ----- stack -----
    def _pop(self):
        if not self.stack:
            raise UnpicklingError(f"{self.what}: stack underflow near byte {self.pos}")
        return self.stack.pop()

    def _pop_mark(self) -> list:
        if not self.metastack:
            raise UnpicklingError(f"{self.what}: MARK missing near byte {self.pos}")
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def _push(self, x) -> None:
        self.stack.append(x)

    def _top(self):
        if not self.stack:
            raise UnpicklingError(f"{self.what}: stack underflow near byte {self.pos}")
        return self.stack[-1]

    # ----- checks -----
    def _key(self, k):
        if k is DEFERRED and not self.execute:
            return k
        if type(k) in _PLAIN_KEYS or (
            type(k) in (tuple, frozenset) and all(self._key(x) is x for x in k)
        ):
            return k
        raise UnpicklingError(
            f"{self.what}: dict/set key of type {type(k).__name__} refused (only str, int, "
            "float, bool, bytes, None and tuples of them)"
        )

    def _target(self, types: tuple, op: str):
        t = self._top()
        if not self.execute:
            return None
        if type(t) not in types:
            raise UnpicklingError(f"{self.what}: {op} on {type(t).__name__} refused")
        return t

    # ----- opcode handlers -----
    def _global(self, module, name) -> None:
        if type(module) is not str or type(name) is not str:
            raise UnpicklingError(f"{self.what}: STACK_GLOBAL needs two strings")
        self._push(self.find_class(module, name))

    def op_global(self):
        module = self._line().decode("utf-8")
        self._global(module, self._line().decode("utf-8"))

    def op_stack_global(self):
        name = self._pop()
        self._global(self._pop(), name)

    def op_reduce(self):
        args = self._pop()
        func = self._pop()
        if id(func) not in self.callables:
            raise UnpicklingError(
                f"{self.what}: REDUCE may call only allowlisted rebuild functions, got {func!r}"
            )
        if not self.execute:
            self._push(DEFERRED)
            return
        if type(args) is not tuple:
            raise UnpicklingError(f"{self.what}: REDUCE arguments must be a tuple")
        self._push(func(*args))

    def op_build(self):
        state = self._pop()
        inst = self._top()
        if self.execute:
            self.build(inst, state)

    def _persistent(self, pid) -> None:
        if self.execute:
            self._push(self.persistent_load(pid))
        else:
            self.check_persistent_id(pid)
            self._push(DEFERRED)

    def op_binpersid(self):
        self._persistent(self._pop())

    def op_persid(self):
        self._persistent(self._line().decode("ascii"))

    def op_append(self):
        x = self._pop()
        t = self._target((list,), "APPEND")
        if t is not None:
            t.append(x)

    def op_appends(self):
        items = self._pop_mark()
        t = self._target((list,), "APPENDS")
        if t is not None:
            t.extend(items)

    def op_setitem(self):
        v = self._pop()
        k = self._key(self._pop())
        t = self._target((dict, collections.OrderedDict), "SETITEM")
        if t is not None:
            t[k] = v

    def op_setitems(self):
        items = self._pop_mark()
        if len(items) % 2:
            raise UnpicklingError(f"{self.what}: SETITEMS with an odd number of items")
        t = self._target((dict, collections.OrderedDict), "SETITEMS")
        for i in range(0, len(items), 2):
            k = self._key(items[i])
            if t is not None:
                t[k] = items[i + 1]

    def op_additems(self):
        items = [self._key(x) for x in self._pop_mark()]
        t = self._target((set,), "ADDITEMS")
        if t is not None:
            t.update(items)

    def op_dict(self):
        items = self._pop_mark()
        if len(items) % 2:
            raise UnpicklingError(f"{self.what}: DICT with an odd number of items")
        self._push({self._key(items[i]): items[i + 1] for i in range(0, len(items), 2)})

    def op_frozenset(self):
        self._push(frozenset(self._key(x) for x in self._pop_mark()))

    def op_tuple(self):
        self._push(tuple(self._pop_mark()))

    def op_tuple_n(self, n: int):
        if len(self.stack) < n:
            raise UnpicklingError(f"{self.what}: stack underflow near byte {self.pos}")
        items = tuple(self.stack[len(self.stack) - n :]) if n else ()
        del self.stack[len(self.stack) - n :]
        self._push(items)

    def op_list(self):
        self._push(self._pop_mark())

    def op_mark(self):
        self.metastack.append(self.stack)
        self.stack = []

    def op_pop(self):
        if self.stack:
            self.stack.pop()
        else:
            self._pop_mark()

    def op_get(self, index):
        if index not in self.memo:
            raise UnpicklingError(f"{self.what}: memo key {index} missing")
        self._push(self.memo[index])

    def op_put(self, index):
        if index < 0:
            raise UnpicklingError(f"{self.what}: negative memo key")
        self.memo[index] = self._top()

    def op_proto(self):
        proto = self._unpack(_U8)
        if proto > 5:
            raise UnpicklingError(f"{self.what}: unsupported pickle protocol {proto}")

    def op_int(self):
        line = self._line()
        self._push(False if line == b"00" else True if line == b"01" else int(line, 0))

    def op_long(self):
        line = self._line()
        self._push(int(line[:-1] if line.endswith(b"L") else line, 0))

    def op_long_n(self, size: struct.Struct):
        n = self._unpack(size)
        if size is _I32 and n < 0:
            raise UnpicklingError(f"{self.what}: LONG4 with negative length")
        self._push(int.from_bytes(self._read(n), "little", signed=True))

    def op_string(self):
        line = self._line()
        if len(line) < 2 or line[0] != line[-1] or line[:1] not in (b"'", b'"'):
            raise UnpicklingError(f"{self.what}: STRING argument is not quoted")
        self._push(codecs.escape_decode(line[1:-1])[0].decode("utf-8"))

    def op_sized(self, size: struct.Struct, kind: str):
        n = self._unpack(size)
        if size is _I32 and n < 0:
            raise UnpicklingError(f"{self.what}: negative length")
        raw = self._read(n)
        if kind == "str":
            self._push(raw.decode("utf-8", "surrogatepass"))
        elif kind == "bytes":
            self._push(raw)
        else:
            self._push(bytearray(raw))


def _const(value):
    return lambda self: self._push(value)


_DISPATCH = {
    ord("("): RestrictedUnpickler.op_mark,
    ord("0"): RestrictedUnpickler.op_pop,
    ord("1"): lambda self: self._pop_mark(),
    ord("2"): lambda self: self._push(self._top()),
    ord("F"): lambda self: self._push(float(self._line())),
    ord("G"): lambda self: self._push(self._unpack(_F64)),
    ord("I"): RestrictedUnpickler.op_int,
    ord("J"): lambda self: self._push(self._unpack(_I32)),
    ord("K"): lambda self: self._push(self._unpack(_U8)),
    ord("M"): lambda self: self._push(self._unpack(_U16)),
    ord("L"): RestrictedUnpickler.op_long,
    0x8A: lambda self: self.op_long_n(_U8),
    0x8B: lambda self: self.op_long_n(_I32),
    ord("N"): _const(None),
    0x88: _const(True),
    0x89: _const(False),
    ord("S"): RestrictedUnpickler.op_string,
    ord("T"): lambda self: self.op_sized(_I32, "str"),
    ord("U"): lambda self: self.op_sized(_U8, "str"),
    ord("V"): lambda self: self._push(self._line().decode("raw-unicode-escape")),
    ord("X"): lambda self: self.op_sized(_U32, "str"),
    0x8C: lambda self: self.op_sized(_U8, "str"),
    0x8D: lambda self: self.op_sized(_U64, "str"),
    ord("B"): lambda self: self.op_sized(_U32, "bytes"),
    ord("C"): lambda self: self.op_sized(_U8, "bytes"),
    0x8E: lambda self: self.op_sized(_U64, "bytes"),
    0x96: lambda self: self.op_sized(_U64, "bytearray"),
    ord(")"): _const(()),
    ord("t"): RestrictedUnpickler.op_tuple,
    0x85: lambda self: self.op_tuple_n(1),
    0x86: lambda self: self.op_tuple_n(2),
    0x87: lambda self: self.op_tuple_n(3),
    ord("]"): lambda self: self._push([]),
    ord("l"): RestrictedUnpickler.op_list,
    ord("a"): RestrictedUnpickler.op_append,
    ord("e"): RestrictedUnpickler.op_appends,
    ord("}"): lambda self: self._push({}),
    ord("d"): RestrictedUnpickler.op_dict,
    ord("s"): RestrictedUnpickler.op_setitem,
    ord("u"): RestrictedUnpickler.op_setitems,
    0x8F: lambda self: self._push(set()),
    0x90: RestrictedUnpickler.op_additems,
    0x91: RestrictedUnpickler.op_frozenset,
    ord("g"): lambda self: self.op_get(int(self._line())),
    ord("h"): lambda self: self.op_get(self._unpack(_U8)),
    ord("j"): lambda self: self.op_get(self._unpack(_U32)),
    ord("p"): lambda self: self.op_put(int(self._line())),
    ord("q"): lambda self: self.op_put(self._unpack(_U8)),
    ord("r"): lambda self: self.op_put(self._unpack(_U32)),
    0x94: lambda self: self.op_put(len(self.memo)),
    ord("c"): RestrictedUnpickler.op_global,
    0x93: RestrictedUnpickler.op_stack_global,
    ord("R"): RestrictedUnpickler.op_reduce,
    ord("b"): RestrictedUnpickler.op_build,
    ord("Q"): RestrictedUnpickler.op_binpersid,
    ord("P"): RestrictedUnpickler.op_persid,
    0x80: RestrictedUnpickler.op_proto,
    0x95: lambda self: self._read(8),  # FRAME: a size hint; the opcodes follow inline
}
