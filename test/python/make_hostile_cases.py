"""Hostile and mislabelled PyTorch files for the bounds and format-detection tests (hostile/*.pt).

Each is built the way an attacker or a confused user would get it: with torch.save, torch.jit.save,
Python's zipfile and a pickler that emits PyTorch's own opcodes (persistent ids for storages,
torch._utils._rebuild_tensor_v2 for tensors), but with values torch.save would never write.
"""
import collections
import io
import os
import pickle
import struct
import zipfile
import zlib

import torch


class _Storage:
    """Stands for a storage; pickled as PyTorch's persistent id ('storage', type, key, 'cpu', numel)."""

    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class _Tensor:
    def __init__(self, storage, offset, shape, strides):
        self.args = (storage, offset, tuple(shape), tuple(strides), False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
        return None


def _pickle(obj):
    buf = io.BytesIO()
    _Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def _archive(path, pkl, storages, compress=()):
    """A torch.save-like zip: archive/data.pkl, archive/data/<key>; keys in `compress` deflated."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        for key, data in storages.items():
            kind = zipfile.ZIP_DEFLATED if key in compress else zipfile.ZIP_STORED
            z.writestr(zipfile.ZipInfo(f"archive/data/{key}"), data, compress_type=kind)


def _deflated_zeros(n_mib):
    """A raw deflate stream of n_mib MiB of zeros, made from one compressed MiB repeated: each
    chunk ends in a full flush, so it is byte-aligned and refers to nothing before it."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = c.compress(b"\0" * (1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    return chunk * n_mib + b"\x03\x00"  # an empty final block


def _raw_zip(path, entries):
    """A zip of (name, bytes, method, crc, size) entries written by hand, for what zipfile cannot make."""
    out, central = bytearray(), bytearray()
    for name, data, method, crc, size in entries:
        n = name.encode()
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, crc, len(data), size,
                               len(n), 0, 0, 0, 0, 0, len(out)) + n
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(data), size, len(n), 0) + n + data
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(out), 0)
    with open(path, "wb") as f:
        f.write(out + central + eocd)


def write_hostile_cases(out):
    os.makedirs(out, exist_ok=True)
    f32 = lambda n: struct.pack(f"<{n}f", *([0.5] * n))
    block = lambda s1, s2, s3, s4, o=0, strides=None: collections.OrderedDict(
        [("linear1.weight", _Tensor(s1, o, (4, 4), strides or (4, 1))), ("linear1.bias", _Tensor(s2, 0, (4,), (1,))),
         ("linear2.weight", _Tensor(s3, 0, (4, 4), (4, 1))), ("linear2.bias", _Tensor(s4, 0, (4,), (1,)))])
    st = [_Storage(str(i), 16 if i % 2 == 0 else 4) for i in range(4)]
    data = {str(i): f32(16 if i % 2 == 0 else 4) for i in range(4)}

    # 1 GiB of zeros deflated into about 1 MB, declared as a 16-element storage. The CRC is not
    # computed (a reader that stops at the storage's size never reaches it).
    pkl = _pickle(block(*st))
    _raw_zip(os.path.join(out, "zip_bomb.pt"), [("archive/data.pkl", pkl, 0, zlib.crc32(pkl), len(pkl))]
             + [(f"archive/data/{k}", d, 0, zlib.crc32(d), len(d)) for k, d in data.items() if k != "0"]
             + [("archive/data/0", _deflated_zeros(1024), 8, 0, 1 << 30)])
    # A compressed storage of the right size is fine (torch.save never compresses, but zip tools may).
    _archive(os.path.join(out, "compressed_ok.pt"), _pickle(block(*st)), data, compress={"0", "2"})
    # A negative storage offset: subarray would count it from the end.
    _archive(os.path.join(out, "negative_offset.pt"), _pickle(block(*st, o=-4)), data)
    # A block of hidden width 2**22 whose weights view one element through zero strides (128 MB if materialised).
    one, wide = _Storage("0", 1), 1 << 22
    big = collections.OrderedDict([("linear1.weight", _Tensor(one, 0, (wide, 4), (0, 0))), ("linear1.bias", _Tensor(one, 0, (wide,), (0,))),
                                   ("linear2.weight", _Tensor(one, 0, (4, wide), (0, 0))), ("linear2.bias", _Tensor(one, 0, (4,), (0,)))])
    _archive(os.path.join(out, "stride0.pt"), _pickle(big), {"0": f32(1)})
    # Two data.pkl entries: torch.load refuses such an archive.
    with zipfile.ZipFile(os.path.join(out, "two_pickles.pt"), "w") as z:
        z.writestr("archive/data.pkl", _pickle(block(*st)))
        for key, d in data.items():
            z.writestr(f"archive/data/{key}", d)
        z.writestr("archive/data.pkl", _pickle(collections.OrderedDict([("w", _Tensor(st[0], 0, (16,), (1,)))])))
    # APPENDS of 300,000 items in one go (Python's pickler batches by 1,000; this one does not).
    appends = b"\x80\x02]q\x00(" + b"K\x01" * 300000 + b"e."
    _archive(os.path.join(out, "huge_appends.pt"), appends, {})
    # 20,000 residual blocks (40,000 Linears) of width 1 in a 3 MB file.
    many = collections.OrderedDict()
    one = _Storage("0", 1)
    for i in range(20000):
        for name in ("linear1", "linear2"):
            many[f"blocks.{i}.{name}.weight"] = _Tensor(one, 0, (1, 1), (1, 1))
    _archive(os.path.join(out, "many_layers.pt"), _pickle(many), {"0": f32(1)})
    # A good file with the zip encryption flag set on every entry, and one without its central directory.
    good = io.BytesIO()
    torch.save(collections.OrderedDict((k, torch.ones(v)) for k, v in [("linear1.weight", (4, 4)), ("linear2.weight", (4, 4))]), good)
    raw = bytearray(good.getvalue())
    encrypted = bytearray(raw)
    at = encrypted.find(b"PK\x01\x02")
    while at >= 0:
        encrypted[at + 8] |= 1
        at = encrypted.find(b"PK\x01\x02", at + 4)
    with open(os.path.join(out, "encrypted.pt"), "wb") as f:
        f.write(encrypted)
    with open(os.path.join(out, "no_central_directory.pt"), "wb") as f:
        f.write(raw[: raw.find(b"PK\x01\x02")])
    # What users save by mistake: a whole pickled model, and a TorchScript file.
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    torch.save(model, os.path.join(out, "whole_model.pt"))
    torch.jit.save(torch.jit.script(model), os.path.join(out, "torchscript.pt"))
    # A zero-width hidden layer, which PyTorch accepts.
    torch.save(collections.OrderedDict([("linear1.weight", torch.zeros(0, 30)), ("linear1.bias", torch.zeros(0)),
                                        ("linear2.weight", torch.zeros(30, 0)), ("linear2.bias", torch.zeros(30))]),
               os.path.join(out, "zero_width.pt"))
