"""What an .onnx file holds, read without the onnx package (Debian ships none beside PyTorch):
a protobuf reader for the few fields that say which ops torch.onnx.export wrote and where the
constants sit (initializers or Constant nodes). Field numbers are onnx.proto3's."""
import struct

# TensorProto.data_type -> struct format of one element (FLOAT, INT32, INT64, DOUBLE).
ELEMENT = {1: "f", 6: "i", 7: "q", 11: "d"}


def _varint(buf, pos):
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def _fields(buf):
    """(field number, wire type, value) of each field of one message, in order."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"protobuf wire type {wire} is not one ONNX uses")
        yield number, wire, value


def _tensor(buf, max_values=8):
    """A TensorProto: its name, dims and, when small, its values."""
    name, dims, kind, raw, typed = "", [], 0, None, []
    for number, wire, value in _fields(buf):
        if number == 1:  # dims: packed or not
            dims += _packed_varints(value) if wire == 2 else [_signed(value)]
        elif number == 2:
            kind = value
        elif number == 8:
            name = value.decode()
        elif number == 9:
            raw = value
        elif number in (4, 5, 7, 10) and wire == 2:  # float_data, int32_data, int64_data, double_data (packed)
            typed = _unpack_typed(number, value)
    count = 1
    for d in dims:
        count *= d
    out = {"name": name, "dims": dims}
    if count <= max_values and kind in ELEMENT:
        out["values"] = list(struct.unpack(f"<{count}{ELEMENT[kind]}", raw)) if raw is not None else typed
    return out


def _signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v  # int64 travels as a 64-bit two's complement varint


def _packed_varints(buf):
    values, pos = [], 0
    while pos < len(buf):
        v, pos = _varint(buf, pos)
        values.append(_signed(v))
    return values


def _unpack_typed(number, buf):
    if number == 4:
        return list(struct.unpack(f"<{len(buf) // 4}f", buf))
    if number == 10:
        return list(struct.unpack(f"<{len(buf) // 8}d", buf))
    return _packed_varints(buf)


def _attribute(buf):
    name, value = "", None
    for number, wire, v in _fields(buf):
        if number == 1:
            name = v.decode()
        elif number == 2:
            value = struct.unpack("<f", v)[0]
        elif number == 3:
            value = _signed(v)
        elif number == 4:
            value = v.decode(errors="replace")
        elif number == 5:
            value = _tensor(v)
        elif number == 8:
            value = _packed_varints(v) if wire == 2 else (value or []) + [_signed(v)]
    return name, value


def _node(buf):
    node = {"op": "", "inputs": [], "outputs": []}
    for number, _, value in _fields(buf):
        if number == 1:
            node["inputs"].append(value.decode())
        elif number == 2:
            node["outputs"].append(value.decode())
        elif number == 4:
            node["op"] = value.decode()
        elif number == 5:
            name, attr = _attribute(value)
            node.setdefault("attrs", {})[name] = attr
    return node


def summarize(path):
    """{"opset", "ops": [op types in order], "nodes": [...], "initializers": [...]} of an .onnx file."""
    with open(path, "rb") as f:
        model = f.read()
    graph, opset = b"", None
    for number, _, value in _fields(model):
        if number == 7:
            graph = value
        elif number == 8:  # opset_import: the default domain's version
            entry = dict((n, v) for n, _, v in _fields(value))
            if not entry.get(1):
                opset = entry.get(2)
    nodes, initializers = [], []
    for number, _, value in _fields(graph):
        if number == 1:
            nodes.append(_node(value))
        elif number == 5:
            initializers.append(_tensor(value))
    return {"opset": opset, "ops": [n["op"] for n in nodes], "nodes": nodes, "initializers": initializers}
