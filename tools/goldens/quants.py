#!/usr/bin/env python3
"""Writes the GGUF reader / dequantization goldens into tests/data:

  quants.gguf           small GGUF v3: tensors of every supported type (odd shapes) + metadata of every value type
  quants_expected.json  index: tensor names/types/dims, metadata as gguf-py reads it (floats as float.hex()
                        strings), model rows
  quants_expected.bin   little-endian float32 values from gguf-py's dequantizer, addressed by the index

The 32-block types are quantized with gguf-py's own quantizers; gguf-py cannot quantize Q4_K/Q6_K, so those
blocks are random bytes with sane (small, positive) fp16 scales. A few rows of the real model's Q8_0 and Q4_1
tensors are dequantized too, so the C++ oracle is checked against data written by a real converter.

Run with the project venv (numpy + gguf 0.17.1):  .venv-test/bin/python tools/goldens/quants.py
Deterministic: fixed seed, no timestamps.
"""
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT
from gguf import GGUFValueType as VT

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(ROOT, "tests", "data")
MODEL = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
ALIGNMENT = 64  # non-default on purpose; the model file exercises the default (32)
SEED = 20240611

rng = np.random.default_rng(SEED)


def float_data(ne0: int, rows: int) -> np.ndarray:
    """Random rows with a per-row offset and scale, so min/max based quantizers see varied ranges."""
    x = rng.standard_normal((rows, ne0)).astype(np.float32)
    scale = rng.uniform(0.01, 3.0, size=(rows, 1)).astype(np.float32)
    offset = rng.uniform(-1.0, 1.0, size=(rows, 1)).astype(np.float32)
    return (x * scale + offset).astype(np.float32)


def random_q4_k(n_blocks: int) -> np.ndarray:
    blocks = rng.integers(0, 256, size=(n_blocks, 144), dtype=np.uint8)
    d = rng.uniform(1e-3, 2e-2, size=n_blocks).astype(np.float16)
    dmin = rng.uniform(0.0, 2e-2, size=n_blocks).astype(np.float16)
    blocks[:, 0:2] = d.view(np.uint8).reshape(n_blocks, 2)
    blocks[:, 2:4] = dmin.view(np.uint8).reshape(n_blocks, 2)
    return blocks


def random_q6_k(n_blocks: int) -> np.ndarray:
    blocks = rng.integers(0, 256, size=(n_blocks, 210), dtype=np.uint8)
    d = rng.uniform(5e-4, 5e-3, size=n_blocks).astype(np.float16)
    blocks[:, 208:210] = d.view(np.uint8).reshape(n_blocks, 2)
    return blocks


def make_tensors():
    """(name, qtype, ne (ggml order), raw numpy payload) for every test tensor."""
    out = []
    shapes32 = [(32, 1), (64, 3), (96, 7)]
    for qt in (QT.F32, QT.F16, QT.BF16, QT.Q8_0, QT.Q4_0, QT.Q4_1):
        for ne0, rows in shapes32:
            x = float_data(ne0, rows)
            if qt in (QT.Q8_0, QT.Q4_0) and rows == 7:
                x[2, :32] = 0.0  # an all-zero block: d == 0 path in the quantizer
            if qt == QT.F16 and rows == 7:
                # Exact fp16 specials: signed zeros, subnormals (min, max), max normal, infinities.
                specials = np.array([0.0, -0.0, 2.0**-24, -(2.0**-24), 1023 * 2.0**-24, 2.0**-14,
                                     65504.0, -65504.0, np.inf, -np.inf, 1.0, -2.5], dtype=np.float32)
                x[0, :len(specials)] = specials
            if qt == QT.BF16 and rows == 7:
                x[0, :4] = np.array([0.0, -0.0, 1e-40, -3.0e38], dtype=np.float32)
            raw = gguf.quants.quantize(x, qt)
            out.append((f"{qt.name.lower()}.{ne0}x{rows}", qt, [ne0, rows], raw))
    # 1-D and 3-D tensors: rows() is the product of all dims after the first.
    out.append(("f32.vector", QT.F32, [96], float_data(96, 1).reshape(96)))
    x3 = float_data(32, 6).reshape(2, 3, 32)
    out.append(("q8_0.32x3x2", QT.Q8_0, [32, 3, 2], gguf.quants.quantize(x3, QT.Q8_0)))
    for qt, maker in ((QT.Q4_K, random_q4_k), (QT.Q6_K, random_q6_k)):
        for ne0, rows in [(256, 1), (512, 3), (256, 7)]:
            n_blocks = ne0 // 256 * rows
            raw = maker(n_blocks).reshape(rows, ne0 // 256 * (144 if qt == QT.Q4_K else 210))
            out.append((f"{qt.name.lower()}.{ne0}x{rows}", qt, [ne0, rows], raw))
    return out


# Metadata: key -> (GGUF type, value, array element type or None). Written in this order.
METADATA = [
    ("general.architecture", VT.STRING, "podserve-test", None),
    ("test.u8", VT.UINT8, 200, None),
    ("test.i8", VT.INT8, -100, None),
    ("test.u16", VT.UINT16, 60000, None),
    ("test.i16", VT.INT16, -30000, None),
    ("test.u32", VT.UINT32, 4000000000, None),
    ("test.i32", VT.INT32, -2000000000, None),
    ("test.f32", VT.FLOAT32, 3.14159, None),
    ("test.bool_true", VT.BOOL, True, None),
    ("test.bool_false", VT.BOOL, False, None),
    ("test.string", VT.STRING, "h\u00e9llo w\u00f6rld \u2713 \"quoted\"\n", None),
    ("test.string_empty", VT.STRING, "", None),
    ("test.u64", VT.UINT64, 2**63 + 12345, None),
    ("test.i64", VT.INT64, -(2**62) - 7, None),
    ("test.f64", VT.FLOAT64, 2.718281828459045, None),
    ("test.array_string", VT.ARRAY, ["a", "", "<0x0A>", "\u0120hello", "\u4e16\u754c"], VT.STRING),
    ("test.array_i32", VT.ARRAY, [1, -2, 3, 2147483647, -2147483648], VT.INT32),
    ("test.array_u8", VT.ARRAY, [0, 1, 255], VT.UINT8),
    ("test.array_f32", VT.ARRAY, [0.5, -1.25, 1e-7], VT.FLOAT32),
    ("test.array_f64", VT.ARRAY, [0.1, -1e300], VT.FLOAT64),
    ("test.array_bool", VT.ARRAY, [True, False, True], VT.BOOL),
    ("test.array_u64", VT.ARRAY, [0, 2**64 - 1], VT.UINT64),
    ("test.array_nested_i32", VT.ARRAY, [[1, 2], [3, 4, 5], [6]], VT.ARRAY),
    ("test.array_nested_string", VT.ARRAY, [["x", "y"], ["z"]], VT.ARRAY),
]


def normalize(vtype, value, sub):
    """The value as the golden stores it: float32 values rounded to float32 (then exact as a double)."""
    if vtype == VT.FLOAT32:
        return float(np.float32(value))
    if vtype == VT.ARRAY:
        if sub == VT.ARRAY:
            return [normalize(VT.ARRAY, v, VT.get_type(v[0])) for v in value]
        return [normalize(sub, v, None) for v in value]
    return value


def to_json(vtype, value):
    """Floats go into the JSON as exact hex strings (float.hex), so no decimal round trip can blur them."""
    return float(value).hex() if vtype in (VT.FLOAT32, VT.FLOAT64) else value


def golden_node(vtype, value, sub):
    node = {"type": vtype.name}
    if vtype == VT.ARRAY:
        node["elem_type"] = sub.name
        if sub == VT.ARRAY:
            node["value"] = [golden_node(VT.ARRAY, v, VT.get_type(v[0])) for v in value]
        else:
            node["value"] = [to_json(sub, v) for v in normalize(vtype, value, sub)]
    else:
        node["value"] = to_json(vtype, normalize(vtype, value, None))
    return node


def main() -> int:
    os.makedirs(OUT_DIR, exist_ok=True)
    gguf_path = os.path.join(OUT_DIR, "quants.gguf")
    tensors = make_tensors()

    writer = gguf.GGUFWriter(gguf_path, arch=None, use_temp_file=False)
    writer.add_custom_alignment(ALIGNMENT)
    for key, vtype, value, sub in METADATA:
        writer.add_key_value(key, value, vtype, sub_type=sub if sub != VT.ARRAY else None)
    for name, qt, ne, raw in tensors:
        if qt in (QT.F32, QT.F16):
            writer.add_tensor(name, raw)  # numpy dtype picks the type; shape is reversed ne
        else:
            writer.add_tensor(name, raw, raw_dtype=qt)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    # Everything expected comes from reading the written file back with gguf-py.
    reader = gguf.GGUFReader(gguf_path)
    values = []
    index = {"alignment": ALIGNMENT, "tensors": [], "metadata": {}, "model": {}, "model_rows": []}

    def push(arr: np.ndarray) -> tuple[int, int]:
        offset = sum(v.size for v in values)
        values.append(np.ascontiguousarray(arr, dtype=np.float32).reshape(-1))
        return offset, values[-1].size

    by_name = {t.name: t for t in reader.tensors}
    for name, qt, ne, _ in tensors:
        t = by_name[name]
        assert t.tensor_type == qt and [int(d) for d in t.shape] == ne, name
        deq = gguf.quants.dequantize(np.asarray(t.data), qt)
        offset, count = push(deq)
        assert count == int(np.prod(ne)), name
        index["tensors"].append({"name": name, "type": qt.name, "type_id": int(qt), "dims": ne,
                                 "offset": offset, "count": count})

    index["metadata"]["general.alignment"] = {"type": "UINT32", "value": ALIGNMENT}
    for key, vtype, value, sub in METADATA:
        node = golden_node(vtype, value, sub)
        field = reader.fields[key]
        if vtype == VT.ARRAY and sub == VT.ARRAY:
            # gguf-py's ReaderField.contents() flattens nested arrays; check the type chain instead.
            assert field.types[0] == VT.ARRAY and field.types[1] == VT.ARRAY, key
        else:
            read = field.contents()
            assert read == normalize(vtype, value, sub), (key, read, value)
        index["metadata"][key] = node
    assert len(reader.fields) - 3 == len(index["metadata"])  # minus GGUF.version/tensor_count/kv_count

    # Rows of the real model (Q8_0 and Q4_1), read and dequantized by gguf-py.
    if not os.path.exists(MODEL):
        print(f"missing {MODEL}; run scripts/fetch_model first", file=sys.stderr)
        return 1
    model = gguf.GGUFReader(MODEL)
    index["model"] = {"tensor_count": len(model.tensors), "kv_count": len(model.fields) - 3}
    for t in model.tensors:
        if t.name not in ("token_embd.weight", "blk.0.attn_q.weight"):
            continue
        n_rows = int(np.prod([int(d) for d in t.shape[1:]]))
        for row in (0, 1, n_rows - 1):
            deq = gguf.quants.dequantize(np.asarray(t.data[row]), t.tensor_type)
            offset, count = push(deq)
            index["model_rows"].append({"tensor": t.name, "type": t.tensor_type.name,
                                        "dims": [int(d) for d in t.shape], "row": row,
                                        "offset": offset, "count": count})

    all_values = np.concatenate(values).astype("<f4")
    all_values.tofile(os.path.join(OUT_DIR, "quants_expected.bin"))
    index["value_count"] = int(all_values.size)
    with open(os.path.join(OUT_DIR, "quants_expected.json"), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=1, ensure_ascii=True)
        f.write("\n")

    size = os.path.getsize(gguf_path)
    print(f"quants.gguf: {size} bytes, {len(tensors)} tensors, {len(index['metadata'])} KVs "
          f"(alignment {ALIGNMENT})")
    for entry in index["tensors"]:
        print(f"  {entry['name']:<16} {entry['type']:<5} dims={entry['dims']}")
    print(f"model rows: {len(index['model_rows'])} "
          f"({', '.join(sorted({r['tensor'] for r in index['model_rows']}))})")
    print(f"quants_expected.bin: {all_values.size} float32 values")
    assert size < 200 * 1024
    return 0


if __name__ == "__main__":
    sys.exit(main())
