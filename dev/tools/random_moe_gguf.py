#!/usr/bin/env python3
"""random_moe_gguf.py: a qwen3moe GGUF at a real shape (default Qwen3-30B-A3B) with random weights
written directly in GGUF block formats, for peer benchmarks of mixture-of-experts decode
(llama.cpp and Ridgeline on the same file, issue 22). A 30B BF16 file to quantize would need
~60 GB of disk and minutes of llama-quantize; random blocks cost nothing to make and read the
same bytes. Every quant byte is a uniform random draw and each block's f16 scale fields are set
so that the values span about [-amp, amp] (the same rule as Ridgeline's synthetic models,
engine/backend/cpu_backend_quant.cpp fill_random), so activations stay finite through 48 layers.

Types follow llama-quantize's Q4_K_M recipe in outline: q4_k for attention and the experts'
gate/up, q6_k for attn_v, ffn_down_exps on the "more bits" layers (the first and last eighth and
every third between) and the output; the router (ffn_gate_inp) and norms stay F32. --quant q8_0
writes every matrix as q8_0. The vocabulary (tokenizer.* keys) is copied from a GGUF, by default
the default model's (SmolLM2, 49,152 tokens), so every engine can load the file.

  models/.venv-gguf/bin/python dev/tools/random_moe_gguf.py --out /tmp/qwen3-30b-a3b-q4_k_m.gguf
  ... --layers 4 --experts 16 --out /tmp/small-moe.gguf        (a quick local check)
Needs numpy and gguf-py (models/.venv-gguf, or PYTHONPATH=.lcpp/gguf-py).
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import gguf

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "golden"))
from make_tiny_models import tokenizer_fields  # noqa: E402  the tiny models' copy of tokenizer.* keys

T = gguf.GGMLQuantizationType
# block elements, block bytes, and where the f16 scale fields go: (offset, value / amp) pairs
BLOCKS = {
    T.Q4_K: (256, 144, [(0, 1 / (15 * 63)), (2, 1 / 63)]),
    T.Q6_K: (256, 210, [(208, 1 / (128 * 32))]),
    T.Q8_0: (32, 34, [(0, 1 / 127)]),
}


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, default=48)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--experts", type=int, default=128)
    ap.add_argument("--experts-used", type=int, default=8)
    ap.add_argument("--expert-ffn", type=int, default=768)
    ap.add_argument("--rope-theta", type=float, default=1e6)
    ap.add_argument("--context", type=int, default=8192)
    ap.add_argument("--quant", choices=["q4_k_m", "q8_0"], default="q4_k_m")
    ap.add_argument("--amp", type=float, default=0.04, help="weights span about [-amp, amp]")
    ap.add_argument("--vocab-from", default="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.heads % a.kv_heads or a.experts_used > a.experts:
        ap.error("heads must be a multiple of kv-heads, and experts-used at most experts")
    return a


def more_bits(layer, n_layers):  # llama.cpp's use_more_bits
    return layer < n_layers // 8 or layer >= 7 * n_layers // 8 or (layer - n_layers // 8) % 3 == 2


def random_blocks(rng, ty, n_elems, amp):
    """n_elems of type ty as uint8 bytes: random quants, scale fields set."""
    be, bb, scales = BLOCKS[ty]
    nblk = n_elems // be
    b = rng.integers(0, 256, size=(nblk, bb), dtype=np.uint8)
    for off, rel in scales:
        b[:, off:off + 2] = np.frombuffer(np.float16(amp * rel).tobytes(), dtype=np.uint8)
    return b


def main():
    a = parse()
    tok = tokenizer_fields(Path(a.vocab_from))
    tokens = [v for k, v, *_ in tok if k == "tokenizer.ggml.tokens"]
    if not tokens:
        sys.exit(f"{a.vocab_from}: no tokenizer.ggml.tokens")
    n_vocab = len(tokens[0])
    d, L, hd, E, fe = a.hidden, a.layers, a.head_dim, a.experts, a.expert_ffn
    q, kvd = a.heads * hd, a.kv_heads * hd
    main_t = T.Q4_K if a.quant == "q4_k_m" else T.Q8_0
    hi_t = T.Q6_K if a.quant == "q4_k_m" else T.Q8_0
    for n, what in ((d, "hidden"), (q, "heads x head-dim"), (fe, "expert-ffn")):
        if n % BLOCKS[main_t][0] or n % BLOCKS[hi_t][0]:
            sys.exit(f"{what} = {n} is not a whole number of {BLOCKS[main_t][0]}-element blocks")

    # (name, ggml shape as numpy [.., rows, cols], type)
    tensors = [("token_embd.weight", (n_vocab, d), main_t), ("output_norm.weight", (d,), T.F32),
               ("output.weight", (n_vocab, d), hi_t)]
    for l in range(L):
        p = f"blk.{l}."
        v_t = hi_t if more_bits(l, L) else main_t
        tensors += [(p + "attn_norm.weight", (d,), T.F32), (p + "attn_q.weight", (q, d), main_t),
                    (p + "attn_k.weight", (kvd, d), main_t), (p + "attn_v.weight", (kvd, d), v_t),
                    (p + "attn_output.weight", (d, q), main_t), (p + "attn_q_norm.weight", (hd,), T.F32),
                    (p + "attn_k_norm.weight", (hd,), T.F32), (p + "ffn_norm.weight", (d,), T.F32),
                    (p + "ffn_gate_inp.weight", (E, d), T.F32),
                    (p + "ffn_gate_exps.weight", (E, fe, d), main_t), (p + "ffn_up_exps.weight", (E, fe, d), main_t),
                    (p + "ffn_down_exps.weight", (E, d, fe), v_t)]

    w = gguf.GGUFWriter(a.out, "qwen3moe")
    w.add_name(f"random-qwen3moe-{L}L-{d}-{E}x{fe}-top{a.experts_used}-{a.quant}")
    w.add_context_length(a.context)
    w.add_embedding_length(d)
    w.add_block_count(L)
    w.add_feed_forward_length(6144)  # the dense FFN width Qwen3-30B-A3B's config carries (unused)
    w.add_head_count(a.heads)
    w.add_head_count_kv(a.kv_heads)
    w.add_key_length(hd)
    w.add_value_length(hd)
    w.add_rope_freq_base(a.rope_theta)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_expert_count(E)
    w.add_expert_used_count(a.experts_used)
    w.add_expert_feed_forward_length(fe)
    w.add_vocab_size(n_vocab)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_K_M if a.quant == "q4_k_m" else gguf.LlamaFileType.MOSTLY_Q8_0)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    for k, v, vt, sub in tok:
        w.add_key_value(k, v, vt, sub)

    def nbytes(shape, ty):
        n = int(np.prod(shape))
        if ty == T.F32:
            return 4 * n
        return n // BLOCKS[ty][0] * BLOCKS[ty][1]

    for name, shape, ty in tensors:
        if ty == T.F32:
            w.add_tensor_info(name, shape, np.dtype(np.float32), nbytes(shape, ty))
        else:  # byte shape: the rows, then the row's bytes
            byte_shape = (*shape[:-1], shape[-1] // BLOCKS[ty][0] * BLOCKS[ty][1])
            w.add_tensor_info(name, byte_shape, np.dtype(np.uint8), nbytes(shape, ty), raw_dtype=ty)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    fout = w.fout[0]
    w.write_padding(fout, fout.tell())

    rng = np.random.default_rng(a.seed)
    total = sum(nbytes(s, t) for _, s, t in tensors)
    print(f"{a.out}: {len(tensors)} tensors, {total / 2**30:.2f} GiB, vocab {n_vocab}", flush=True)
    t0 = time.time()
    for i, (name, shape, ty) in enumerate(tensors):
        start = fout.tell()
        n = int(np.prod(shape))
        if name.endswith("ffn_gate_inp.weight"):
            # router rows spread like a trained router's logits (std ~1 over d inputs)
            (rng.standard_normal(n, dtype=np.float32) / np.float32(np.sqrt(d))).tofile(fout)
        elif ty == T.F32:
            np.ones(n, dtype=np.float32).tofile(fout)
        else:
            rows = int(np.prod(shape[:-1]))
            step = max(1, (64 << 20) // max(1, nbytes(shape, ty) // rows))  # ~64 MiB a chunk
            for r in range(0, rows, step):
                random_blocks(rng, ty, min(step, rows - r) * shape[-1], a.amp).tofile(fout)
        wrote = fout.tell() - start
        if wrote != nbytes(shape, ty):
            sys.exit(f"{name}: wrote {wrote} bytes, expected {nbytes(shape, ty)}")
        w.write_padding(fout, wrote)
        if i % 60 == 0 or i == len(tensors) - 1:
            print(f"  {i + 1}/{len(tensors)} tensors, {time.time() - t0:.1f} s", flush=True)
    w.tensors = [{}]  # data written by hand above
    w.close()
    print(f"wrote {a.out} ({Path(a.out).stat().st_size / 2**30:.2f} GiB) in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
