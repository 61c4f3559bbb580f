"""Hand-built pickles in PyTorch containers: hostile ones are refused before
anything runs; well-formed ones exercise the corners real files rarely reach."""

from __future__ import annotations

import io
import os
import pickle
import shlex
import struct
import zipfile

import numpy as np
import pytest

from ember import serialization
from ember.serialization import CheckpointError, UnpicklingError, _torch_pickle

# ----- a tiny pickle assembler -----


def glob(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def s(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def i(n: int) -> bytes:
    return b"J" + struct.pack("<i", n)


def tup(*items: bytes) -> bytes:
    return b"(" + b"".join(items) + b"t"


EMPTY_OD = glob("collections", "OrderedDict") + b")R"


def tensor(key="0", stype="FloatStorage", numel=4, offset=0, size=(4,), stride=(1,)) -> bytes:
    """``torch._utils._rebuild_tensor_v2`` over storage ``key``, as torch.save writes it."""
    pid = tup(s("storage"), glob("torch", stype), s(key), s("cpu"), i(numel))
    args = tup(
        pid + b"Q",
        i(offset),
        tup(*map(i, size)),
        tup(*map(i, stride)),
        b"\x89",
        EMPTY_OD,
    )
    return glob("torch._utils", "_rebuild_tensor_v2") + args + b"R"


def torch_zip(pkl: bytes, storages: dict | None = None, byteorder: bytes | None = None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02" + pkl + b".")
        if byteorder is not None:
            zf.writestr("archive/byteorder", byteorder)
        for key, data in (storages or {}).items():
            zf.writestr(f"archive/data/{key}", data)
    buf.seek(0)
    return buf


def legacy(obj_pickle: bytes, keys=(), storages=b"") -> io.BytesIO:
    head = b"".join(
        pickle.dumps(x, protocol=2)
        for x in (
            0x1950A86A20F9469CFC6C,
            1001,
            {"protocol_version": 1001, "little_endian": True, "type_sizes": {}},
        )
    )
    return io.BytesIO(
        head + b"\x80\x02" + obj_pickle + b"." + pickle.dumps(list(keys), protocol=2) + storages
    )


F32 = np.arange(4, dtype="<f4").tobytes()


def test_assembler_builds_loadable_checkpoints():
    t = serialization.load(torch_zip(tensor(), {"0": F32}))
    np.testing.assert_array_equal(t._a, [0, 1, 2, 3])
    obj = serialization.load(legacy(tensor(), ["0"], struct.pack("<q", 4) + F32))
    np.testing.assert_array_equal(obj._a, [0, 1, 2, 3])


# ----- code execution attempts -----


class _System:
    """Pickles as ``os.system(command)``: what a malicious checkpoint does."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "pwned"
    yield path
    assert not path.exists()


def test_payload_is_real_under_plain_pickle(tmp_path):
    # Control: the standard unpickler really runs this payload, so the refusals
    # below are meaningful.
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_System(f"touch {shlex.quote(str(control))}")))
    assert control.exists()


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
@pytest.mark.parametrize("container", ["zip", "legacy"])
def test_os_system_reduce_is_refused_and_never_runs(protocol, container, marker):
    payload = pickle.dumps({"w": _System(f"touch {shlex.quote(str(marker))}")}, protocol=protocol)
    body = payload[2:-1] if payload[:1] == b"\x80" else payload[:-1]
    f = torch_zip(body) if container == "zip" else legacy(body)
    with pytest.raises(UnpicklingError, match=r"refused global '(posix|nt)\.system'"):
        serialization.load(f)
    assert not marker.exists()


def test_refusal_comes_before_any_allowlisted_call(monkeypatch, marker):
    calls = []
    real = _torch_pickle.strided_view
    monkeypatch.setattr(_torch_pickle, "strided_view", lambda *a: calls.append(a) or real(*a))
    evil = pickle.dumps(_System(f"touch {shlex.quote(str(marker))}"), protocol=2)[2:-1]
    # A valid tensor first, the hostile global after it.
    pkl = b"]" + b"(" + tensor() + evil + b"e"
    with pytest.raises(UnpicklingError, match="system"):
        serialization.load(torch_zip(pkl, {"0": F32}))
    assert calls == [] and not marker.exists()
    serialization.load(torch_zip(b"]" + b"(" + tensor() + b"e", {"0": F32}))
    assert len(calls) == 1  # the recorder does see calls when nothing is refused


@pytest.mark.parametrize(
    "module, name",
    [
        ("builtins", "eval"),
        ("builtins", "exec"),
        ("builtins", "getattr"),
        ("builtins", "__import__"),
        ("functools", "partial"),
        ("subprocess", "Popen"),
        ("torch", "load"),
        ("torch.storage", "_load_from_bytes"),
        ("torch._utils", "_rebuild_parameter_with_state"),
        ("torch._tensor", "_rebuild_from_type_v2"),
        ("torch", "Tensor"),
        ("torch", "FloatStorage.__new__"),
        ("collections", "OrderedDict.fromkeys"),
        ("torch", "QInt8Storage"),
        ("torch", "UntypedStorage"),
        ("copyreg", "_reconstructor"),
        ("__builtin__", "set"),
    ],
)
def test_globals_outside_the_allowlist_are_refused_by_name(module, name):
    pkl = glob(module, name) + tup(s("echo hi")) + b"R"
    with pytest.raises(UnpicklingError, match=f"refused global '{module}.{name}'"):
        serialization.load(torch_zip(pkl))


def test_nested_globals_getattr_import_chain_is_refused(marker):
    # getattr(__import__('os'), 'system')('touch marker')
    inner = glob("builtins", "__import__") + tup(s("os")) + b"R"
    getter = glob("builtins", "getattr") + tup(inner, s("system")) + b"R"
    pkl = getter + tup(s(f"touch {shlex.quote(str(marker))}")) + b"R"
    with pytest.raises(UnpicklingError, match="builtins.getattr"):
        serialization.load(torch_zip(pkl))
    assert not marker.exists()


def test_stack_global_built_from_memo_is_refused():
    # Protocol 4: module and name come from the memo, not from the GLOBAL line.
    raw = b"\x8c\x02os\x94\x8c\x06system\x94" + b"00" + b"h\x00h\x01\x93" + tup(s("true")) + b"R"
    with pytest.raises(UnpicklingError, match="refused global 'os.system'"):
        serialization.load(torch_zip(raw))


def test_stack_global_needs_strings():
    raw = i(1) + i(2) + b"\x93"
    with pytest.raises(UnpicklingError, match="STACK_GLOBAL needs two strings"):
        serialization.load(torch_zip(raw))


@pytest.mark.parametrize(
    "op, name",
    [(b"\x82\x01", "EXT1"), (b"\x83\x01\x00", "EXT2"), (b"\x84\x01\x00\x00\x00", "EXT4")],
)
def test_extension_registry_opcodes_are_refused(op, name):
    import copyreg

    copyreg.add_extension("posix", "system", 1)  # even when the registry has an entry
    try:
        with pytest.raises(UnpicklingError, match=f"{name} \\(extension registry\\)"):
            serialization.load(torch_zip(op + tup(s("true")) + b"R"))
    finally:
        copyreg.remove_extension("posix", "system", 1)


@pytest.mark.parametrize(
    "raw, name",
    [
        (EMPTY_OD[:-2] + b")\x81", "NEWOBJ"),
        (EMPTY_OD[:-2] + b")}\x92", "NEWOBJ_EX"),
        (b"(ios\nsystem\n", "INST"),
        (b"(" + glob("collections", "OrderedDict") + b"o", "OBJ"),
        (b"\x97", "NEXT_BUFFER"),
        (b"\x98", "READONLY_BUFFER"),
    ],
)
def test_instantiation_and_buffer_opcodes_are_refused(raw, name):
    with pytest.raises(UnpicklingError, match=name):
        serialization.load(torch_zip(raw))


# ----- BUILD, REDUCE and mutation abuse -----


@pytest.mark.parametrize(
    "raw, message",
    [
        (EMPTY_OD + b"}" + s("__class__") + s("x") + b"sb", "attribute name '__class__'"),
        (EMPTY_OD + b"}" + s("__setstate__") + i(1) + b"sb", "'__setstate__'"),
        (EMPTY_OD + b"N}" + s("x") + i(1) + b"s\x86b", "tuple state"),  # slotstate form
        (b"}}" + s("x") + i(1) + b"sb", "BUILD refused on dict"),
        (tensor() + b"}" + s("_a") + i(1) + b"sb", "BUILD refused on Tensor"),
        (glob("collections", "OrderedDict") + b"}" + s("fromkeys") + i(1) + b"sb", "BUILD"),
        (glob("torch", "FloatStorage") + b"}" + s("dtype") + s("x") + b"sb", "BUILD"),
        (EMPTY_OD + b"}" + i(3) + i(1) + b"sb", "attribute name 3"),
    ],
)
def test_build_abuse_is_refused(raw, message):
    with pytest.raises(UnpicklingError, match=message):
        serialization.load(torch_zip(raw, {"0": F32}))


def test_build_sets_only_plain_attributes_on_ordered_dicts():
    meta = b"}" + s("_metadata") + b"}" + s("") + i(1) + b"s" + b"s"
    od = serialization.load(torch_zip(EMPTY_OD + meta + b"b"))
    assert od._metadata == {"": 1} and type(od).__name__ == "OrderedDict"


@pytest.mark.parametrize(
    "raw, message",
    [
        (glob("torch", "FloatStorage") + b")R", "REDUCE may call only"),
        (s("os.system") + b")R", "REDUCE may call only"),
        (EMPTY_OD + b")R", "REDUCE may call only"),  # calling a result
        (tensor() + s("k") + i(1) + b"s", "SETITEM on Tensor"),
        (EMPTY_OD + i(1) + b"a", "APPEND on OrderedDict"),
        (b"}(" + i(1) + b"e", "APPENDS on dict"),
        (b"](" + i(1) + b"\x90", "ADDITEMS on list"),
        (b"}" + tensor() + i(1) + b"s", "key of type Tensor"),
        (b"\x8f(" + b"]" + b"\x90", "key of type list"),
        (b"(" + b"}" + i(1) + b"d", "key of type dict"),
    ],
)
def test_reduce_and_mutation_abuse_is_refused(raw, message):
    with pytest.raises(UnpicklingError, match=message):
        serialization.load(torch_zip(raw, {"0": F32}))


@pytest.mark.parametrize(
    "pid, message",
    [
        (b"P0\n", "persistent id '0' refused"),
        (tup(s("module"), s("x")) + b"Q", "only \\('storage', ...\\) ids"),
        (tup(s("storage"), s("FloatStorage"), s("0"), s("cpu"), i(4)) + b"Q", "not a storage"),
        (tup(s("storage"), glob("torch", "FloatStorage"), i(0), s("cpu"), i(4)) + b"Q", "key"),
        (tup(s("storage"), glob("torch", "FloatStorage"), s("0"), s("cpu"), i(-1)) + b"Q", "count"),
        (tup(s("storage"), glob("torch", "FloatStorage"), s("0")) + b"Q", "fields"),
    ],
)
def test_bad_persistent_ids_are_refused(pid, message):
    with pytest.raises(UnpicklingError, match=message):
        serialization.load(torch_zip(pid, {"0": F32}))


# ----- tensors that reach outside their storage -----


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(size=(5,)), "needs elements \\[0, 5\\) of float32, but the storage holds 4"),
        (dict(offset=1), "needs elements \\[1, 5\\)"),
        (dict(size=(2, 2), stride=(3, 1)), "needs elements \\[0, 5\\)"),
        (dict(offset=0, size=(2,), stride=(-1,)), "needs elements \\[-1, 1\\)"),
        (dict(offset=-1), "offset must be an integer >= 0"),
        (dict(size=(-2,)), "shape must be integers >= 0"),
        (dict(size=(2, 2), stride=(1,)), "1 strides for a 2-d shape"),
    ],
)
def test_out_of_bounds_views_are_refused(kwargs, message):
    with pytest.raises(CheckpointError, match=message):
        serialization.load(torch_zip(tensor(**kwargs), {"0": F32}))


def test_storage_numel_must_match_entry_size():
    with pytest.raises(CheckpointError, match="holds 16 bytes but 5 float32 elements need 20"):
        serialization.load(torch_zip(tensor(numel=5, size=(5,)), {"0": F32}))


def test_one_storage_key_with_two_dtypes_is_refused():
    pkl = b"](" + tensor() + tensor(stype="IntStorage") + b"e"
    with pytest.raises(CheckpointError, match="two dtypes"):
        serialization.load(torch_zip(pkl, {"0": F32}))


def test_storage_key_cannot_escape_the_data_folder():
    with pytest.raises(CheckpointError, match="no zip entry"):
        serialization.load(torch_zip(tensor(key="../data.pkl"), {"0": F32}))


def test_legacy_keys_must_match_the_pickle():
    with pytest.raises(CheckpointError, match="listed but not used"):
        serialization.load(legacy(tensor(), ["0", "1"], struct.pack("<q", 4) + F32))


def test_legacy_storage_views():
    view = tup(s("v"), i(1), i(2))
    pid = tup(s("storage"), glob("torch", "FloatStorage"), s("0"), s("cpu"), i(4), view)
    args = tup(pid + b"Q", i(0), tup(i(2)), tup(i(1)), b"\x89", EMPTY_OD)
    pkl = glob("torch._utils", "_rebuild_tensor_v2") + args + b"R"
    t = serialization.load(legacy(pkl, ["0"], struct.pack("<q", 4) + F32))
    np.testing.assert_array_equal(t._a, [1, 2])
    bad = pkl.replace(i(1) + i(2), i(3) + i(2))
    with pytest.raises(CheckpointError, match="outside storage"):
        serialization.load(legacy(bad, ["0"], struct.pack("<q", 4) + F32))


# ----- malformed pickles -----


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x80\x02]", "truncated"),
        (b"\x80\x02X\xff\x00\x00\x00ab.", "truncated"),
        (b"\x80\x060", "unsupported pickle protocol 6"),
        (b"\x80\x02a.", "stack underflow"),
        (b"\x80\x02h\x07.", "memo key 7 missing"),
        (b"\x80\x02(K\x01d.", "odd number"),
        (b"\x80\x02t.", "MARK missing"),
        (b"\x80\x02\xff.", "unknown opcode"),
        (b"\x80\x02X\x02\x00\x00\x00\xff\xfe.", "malformed pickle"),
    ],
)
def test_malformed_pickles_are_refused(raw, message):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", raw)
    buf.seek(0)
    with pytest.raises(UnpicklingError, match=message):
        serialization.load(buf)


def test_torchscript_archives_are_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("m/data.pkl", b"\x80\x02N.")
        zf.writestr("m/constants.pkl", b"\x80\x02N.")
    buf.seek(0)
    with pytest.raises(CheckpointError, match="TorchScript"):
        serialization.load(buf)


# ----- byte order -----


@pytest.mark.parametrize(
    "stype, dtype",
    [
        ("DoubleStorage", ">f8"),
        ("LongStorage", ">i8"),
        ("HalfStorage", ">f2"),
        ("ComplexFloatStorage", ">c8"),
        ("ShortStorage", ">i2"),
    ],
)
def test_big_endian_zip_checkpoints_are_swapped(stype, dtype):
    values = np.array([1.5, -2.25, 3.0, 1024.0])
    if np.dtype(dtype).kind == "c":
        values = values + 1j * np.array([0.5, -1, 2, 8])
    values = values.astype(dtype)  # big-endian bytes, as a big-endian machine stores them
    f = torch_zip(tensor(stype=stype), {"0": values.tobytes()}, byteorder=b"big")
    t = serialization.load(f)
    np.testing.assert_array_equal(t._a, values.astype(values.dtype.newbyteorder("=")))


def test_big_endian_bfloat16():
    import ml_dtypes

    values = np.array([1.5, -2.0, 0.125, 3.0], ml_dtypes.bfloat16)
    swapped = values.view("<u2").byteswap().tobytes()
    t = serialization.load(
        torch_zip(tensor(stype="BFloat16Storage"), {"0": swapped}, byteorder=b"big")
    )
    np.testing.assert_array_equal(t._a, values)


def test_tensor_metadata_conj_and_neg_bits_are_applied():
    values = np.array([1 + 2j, 3 - 1j], "<c8")
    pid = tup(s("storage"), glob("torch", "ComplexFloatStorage"), s("0"), s("cpu"), i(2))
    meta = b"}" + s("conj") + b"\x88" + b"s"
    args = tup(pid + b"Q", i(0), tup(i(2)), tup(i(1)), b"\x89", EMPTY_OD, meta)
    t = serialization.load(
        torch_zip(glob("torch._utils", "_rebuild_tensor_v2") + args + b"R", {"0": values.tobytes()})
    )
    np.testing.assert_array_equal(t._a, np.conj(values))
    bad = args.replace(s("conj"), s("sparse"))
    with pytest.raises(UnpicklingError, match="unsupported tensor metadata"):
        serialization.load(
            torch_zip(
                glob("torch._utils", "_rebuild_tensor_v2") + bad + b"R", {"0": values.tobytes()}
            )
        )


def test_cuda_checkpoint_without_cuda_suggests_map_location():
    import ember

    if ember.cuda.is_available():
        pytest.skip("a GPU is present: the tensor would simply move there")
    pkl = tensor().replace(s("cpu"), s("cuda:0"))
    with pytest.raises(RuntimeError, match="saved on 'cuda:0'; pass map_location='cpu'"):
        serialization.load(torch_zip(pkl, {"0": F32}))
    t = serialization.load(torch_zip(pkl, {"0": F32}), map_location="cpu")
    np.testing.assert_array_equal(t._a, [0, 1, 2, 3])
