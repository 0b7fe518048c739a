#!/usr/bin/env python3
"""Golden rows for tests/test_dequant.cpp: pseudo-random ggml blocks of every type Ridgeline
dequantizes, dequantized by gguf-py (an implementation independent of ours).

Writes tests/golden/dequant_rows.json: for each type, the raw bytes as hex and the expected
fp32 values as uint32 bit patterns (exact, NaN-safe). Fixed seed, so reruns are identical.
Run: python3 tests/golden/gen_dequant_golden.py   (needs `pip install gguf numpy`)
"""
import importlib.metadata
import json
import pathlib

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGML_QUANT_SIZES
from gguf.quants import dequantize

BLOCKS = 2  # per type: enough to cover block boundaries, small enough to keep the file tiny
# Byte offsets of the fp16 scale fields in each block; these get sane random halves so the
# rows hold ordinary numbers instead of NaN/inf from random bits.
HALF_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}


def random_blocks(rng, qtype):
    block_elems, block_bytes = GGML_QUANT_SIZES[qtype]
    n = BLOCKS * block_elems if block_elems > 1 else 64  # plain floats: 64 values
    if qtype == T.F32:
        vals = rng.standard_normal(n).astype(np.float32)
        vals[:4] = [0.0, -0.0, 1e-40, -3.0e38]  # zero, negative zero, subnormal, large
        return vals.view(np.uint8)
    if qtype == T.F16:
        vals = (rng.standard_normal(n) * 100).astype(np.float16)
        vals[:5] = [np.float16(6e-8), np.float16(-6.1e-5), np.float16(65504), np.float16(-0.0), np.inf]
        return vals.view(np.uint8)
    if qtype == T.BF16:
        bits = (rng.standard_normal(n).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
        bits[:3] = [0x0001, 0x8000, 0x7f80]  # bf16 subnormal, -0, inf
        return bits.view(np.uint8)
    raw = rng.integers(0, 256, size=(BLOCKS, block_bytes), dtype=np.uint8)
    for off in HALF_FIELDS[qtype]:
        halves = (rng.standard_normal(BLOCKS) * 0.02).astype(np.float16)
        raw[:, off:off + 2] = halves.view(np.uint8).reshape(BLOCKS, 2)
    return raw.reshape(-1)


def main():
    rng = np.random.default_rng(20240917)
    rows = []
    for qtype in [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q4_K, T.Q5_K, T.Q6_K]:
        raw = random_blocks(rng, qtype)
        out = np.asarray(dequantize(raw, qtype), dtype=np.float32).reshape(-1)
        rows.append({
            "type": qtype.name.lower(),
            "type_id": int(qtype.value),
            "n": int(out.size),
            "bytes_hex": raw.tobytes().hex(),
            "expected_bits": [int(b) for b in out.view(np.uint32)],
        })
    path = pathlib.Path(__file__).with_name("dequant_rows.json")
    path.write_text(json.dumps({"generator": "gguf-py " + importlib.metadata.version("gguf"), "rows": rows}, separators=(",", ":")))
    print(f"wrote {path} ({path.stat().st_size} bytes, {len(rows)} types)")


if __name__ == "__main__":
    main()
