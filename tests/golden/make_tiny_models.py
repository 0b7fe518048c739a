#!/usr/bin/env python3
# make_tiny_models.py: writes the tiny random-weight GGUFs of the model families Ridgeline runs
# (qwen3, qwen3moe, gemma3, phi3, Mistral and Mixtral as `llama`) with gguf-py, llama.cpp's own
# writer, so metadata keys, tensor names and layouts are llama.cpp's. Tokenizer metadata comes
# from the test vocabularies in models/vocab; the chat templates from llama.cpp's
# models/templates (tests/golden/templates/). Weights are F32 from numpy's legacy RandomState,
# whose streams are frozen, so every run writes byte-identical files: SHA256SUMS beside the
# models is checked after writing, and the goldens (generate_family_golden.py) record the same
# hashes. Run by scripts/setup.sh; by hand:
#   python tests/golden/make_tiny_models.py [--vocab-dir models/vocab] [--out-dir models/tiny]
import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
import gguf

HERE = Path(__file__).resolve().parent

# name -> shape and family settings. head_dim != d_model / n_heads on purpose where the family
# allows it (qwen3, gemma3 write attention.key_length), so q_dim and d_model differ.
MODELS = {
    "qwen3": dict(arch="qwen3", vocab="qwen2", layers=3, d=64, heads=4, kv=2, head_dim=32, ff=128,
                  theta=1e6, eps=1e-6, tied=True, template="Qwen-Qwen3-0.6B.jinja", seed=1),
    "qwen3moe": dict(arch="qwen3moe", vocab="qwen2", layers=2, d=64, heads=4, kv=2, head_dim=32, ff=96,
                     experts=8, used=2, ff_exp=32, theta=1e6, eps=1e-6, tied=True,
                     template="Qwen-Qwen3-0.6B.jinja", seed=2),
    "gemma3": dict(arch="gemma3", vocab="llama-spm", layers=4, d=64, heads=4, kv=1, head_dim=32, ff=128,
                   theta=1e6, theta_swa=1e4, swa=6, swa_pattern=2, rope_linear=8.0, eps=1e-6, tied=True,
                   template="google-gemma-2-2b-it.jinja", seed=3),
    "phi3": dict(arch="phi3", vocab="llama-spm", layers=2, d=128, heads=4, kv=2, head_dim=32, ff=160,
                 theta=1e4, eps=1e-5, tied=False, longrope=True, ctx=8192, ctx_orig=4096,
                 template="microsoft-Phi-3.5-mini-instruct.jinja", seed=4),
    "mistral": dict(arch="llama", vocab="llama-spm", layers=2, d=128, heads=4, kv=2, head_dim=32, ff=256,
                    theta=1e6, eps=1e-5, tied=False, swa=4096,
                    template="mistralai-Mistral-Nemo-Instruct-2407.jinja", seed=5),
    # Mistral with a window far shorter than the goldens' prompts: blocks fall behind it. Its
    # golden is generate_swa_golden.py's (HF transformers): llama.cpp ignores the window for llama.
    "mistral_swa": dict(arch="llama", vocab="llama-spm", layers=2, d=128, heads=4, kv=2, head_dim=32, ff=256,
                        theta=1e4, eps=1e-5, tied=False, swa=8,
                        template="mistralai-Mistral-Nemo-Instruct-2407.jinja", seed=7),
    "mixtral": dict(arch="llama", vocab="llama-spm", layers=2, d=64, heads=4, kv=2, head_dim=16, ff=64,
                    experts=4, used=2, theta=1e6, eps=1e-5, tied=False,
                    template="mistralai-Mistral-Nemo-Instruct-2407.jinja", seed=6),
}
# Models whose golden is not llama.cpp's (generate_family_golden.py skips them).
NOT_LLAMA_CPP = {"mistral_swa"}


def tokenizer_fields(path: Path):
    r = gguf.GGUFReader(str(path))
    out = []
    for k, f in r.fields.items():
        if not k.startswith("tokenizer.") or k == "tokenizer.chat_template":  # ours comes from templates/
            continue
        vt = f.types[0]
        sub = f.types[-1] if vt == gguf.GGUFValueType.ARRAY else None
        out.append((k, f.contents(), vt, sub))
    return out


def write_model(name: str, c: dict, vocab_dir: Path, out: Path) -> None:
    rs = np.random.RandomState(c["seed"])
    tok = tokenizer_fields(vocab_dir / f"ggml-vocab-{c['vocab']}.gguf")
    n_vocab = len(next(v for k, v, *_ in tok if k == "tokenizer.ggml.tokens"))
    d, L, hd, H, KV, ff = c["d"], c["layers"], c["head_dim"], c["heads"], c["kv"], c["ff"]
    arch = c["arch"]
    w = gguf.GGUFWriter(str(out), arch)
    # not "phi3": llama.cpp then looks up Phi-3's own special tokens, which the test vocabulary lacks
    w.add_name(f"tiny-random-{name}".replace("phi3", "phi"))
    w.add_context_length(c.get("ctx", 4096))
    w.add_embedding_length(d)
    w.add_block_count(L)
    w.add_feed_forward_length(ff)
    w.add_head_count(H)
    w.add_head_count_kv(KV)
    w.add_key_length(hd)
    w.add_value_length(hd)
    w.add_rope_dimension_count(hd)
    w.add_rope_freq_base(c["theta"])
    w.add_layer_norm_rms_eps(c["eps"])
    w.add_vocab_size(n_vocab)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    if "experts" in c:
        w.add_expert_count(c["experts"])
        w.add_expert_used_count(c["used"])
        if "ff_exp" in c:
            w.add_expert_feed_forward_length(c["ff_exp"])
    if "swa" in c:
        w.add_sliding_window(c["swa"])
    if "swa_pattern" in c:
        w.add_sliding_window_pattern(c["swa_pattern"])
    if "theta_swa" in c:
        w.add_rope_freq_base_swa(c["theta_swa"])
    if "rope_linear" in c:  # Gemma 3 (4B and up): linear scaling on the global layers only
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(c["rope_linear"])
    if c.get("longrope"):  # what the converter writes for Phi-3 128k: no scaling type, the factors as tensors
        w.add_rope_scaling_orig_ctx_len(c["ctx_orig"])
        scale = c["ctx"] / c["ctx_orig"]
        w.add_rope_scaling_attn_factors(float(np.sqrt(1 + np.log(scale) / np.log(c["ctx_orig"]))))
    for k, v, vt, sub in tok:
        w.add_key_value(k, v, vt, sub)
    w.add_chat_template((HERE / "templates" / c["template"]).read_text(encoding="utf-8"))

    def mat(rows, cols, std=None):  # ggml shape {cols, rows}: numpy [rows, cols]
        s = (1.0 / np.sqrt(cols)) if std is None else std
        return (rs.standard_normal((rows, cols)) * s).astype(np.float32)

    def norm(n):  # what the file stores (for gemma3 that is 1 + w: the converter adds the 1)
        return (1.0 + 0.1 * rs.standard_normal(n)).astype(np.float32)

    q, kvd = H * hd, KV * hd
    w.add_tensor("token_embd.weight", mat(n_vocab, d, 1.0 / np.sqrt(d) if arch == "gemma3" else 1.0))
    # A final-norm gain spreads the logits (std ~8) so greedy steps are far from ties: with
    # gemma3's small embedding (its input is scaled up by sqrt(d)) and with the untied heads.
    gain = 1.0 if arch != "gemma3" and c["tied"] else (8.0 if arch == "gemma3" else 4.0)
    w.add_tensor("output_norm.weight", gain * norm(d))
    if not c["tied"]:
        w.add_tensor("output.weight", mat(n_vocab, d, 2.0 / np.sqrt(d)))
    if c.get("longrope"):
        w.add_tensor("rope_factors_long.weight", (1.0 + 3.0 * rs.random_sample(hd // 2)).astype(np.float32))
        w.add_tensor("rope_factors_short.weight", (1.0 + 0.2 * rs.random_sample(hd // 2)).astype(np.float32))
    for l in range(L):
        p = f"blk.{l}."
        w.add_tensor(p + "attn_norm.weight", norm(d))
        if arch == "phi3":  # fused q|k|v rows
            w.add_tensor(p + "attn_qkv.weight", mat(q + 2 * kvd, d))
        else:
            w.add_tensor(p + "attn_q.weight", mat(q, d))
            w.add_tensor(p + "attn_k.weight", mat(kvd, d))
            w.add_tensor(p + "attn_v.weight", mat(kvd, d))
        w.add_tensor(p + "attn_output.weight", mat(d, q))
        if arch in ("qwen3", "qwen3moe", "gemma3"):
            w.add_tensor(p + "attn_q_norm.weight", norm(hd))
            w.add_tensor(p + "attn_k_norm.weight", norm(hd))
        if arch == "gemma3":
            w.add_tensor(p + "post_attention_norm.weight", norm(d))
        w.add_tensor(p + "ffn_norm.weight", norm(d))
        if "experts" in c:
            E, fe = c["experts"], c.get("ff_exp", ff)
            w.add_tensor(p + "ffn_gate_inp.weight", mat(E, d, 2.0 / np.sqrt(d)))
            w.add_tensor(p + "ffn_gate_exps.weight", (rs.standard_normal((E, fe, d)) / np.sqrt(d)).astype(np.float32))
            w.add_tensor(p + "ffn_up_exps.weight", (rs.standard_normal((E, fe, d)) / np.sqrt(d)).astype(np.float32))
            w.add_tensor(p + "ffn_down_exps.weight", (rs.standard_normal((E, d, fe)) / np.sqrt(fe)).astype(np.float32))
        elif arch == "phi3":  # fused gate|up rows: the first half is the gate
            w.add_tensor(p + "ffn_up.weight", mat(2 * ff, d))
            w.add_tensor(p + "ffn_down.weight", mat(d, ff))
        else:
            w.add_tensor(p + "ffn_gate.weight", mat(ff, d))
            w.add_tensor(p + "ffn_up.weight", mat(ff, d))
            w.add_tensor(p + "ffn_down.weight", mat(d, ff))
        if arch == "gemma3":
            w.add_tensor(p + "post_ffw_norm.weight", norm(d))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_golden(out_dir, name: str, obj: dict) -> None:
    """tests/golden/family_<name>.json as the family goldens are written (compact, one line)."""
    import json
    with open(Path(out_dir) / f"family_{name}.json", "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=None, separators=(",", ":"))
        f.write("\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--vocab-dir", default="models/vocab")
    ap.add_argument("--out-dir", default="models/tiny")
    ap.add_argument("--only", nargs="*", help="model names (default: all)")
    ap.add_argument("--write-sums", action="store_true", help="rewrite tests/golden/tiny_models.sha256")
    a = ap.parse_args()
    out_dir = Path(a.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sums_file = HERE / "tiny_models.sha256"
    want = {}
    if sums_file.exists() and not a.write_sums:
        for line in sums_file.read_text().splitlines():
            h, n = line.split()
            want[n] = h
    got, bad = {}, []
    for name in a.only or MODELS:
        path = out_dir / f"tiny-{name}.gguf"
        tmp = path.with_suffix(".gguf.tmp")
        write_model(name, MODELS[name], Path(a.vocab_dir), tmp)
        got[path.name] = sha256(tmp)
        if want.get(path.name, got[path.name]) != got[path.name]:
            bad.append(path.name)
        tmp.replace(path)
        print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB) {got[path.name]}")
    if a.write_sums:
        sums_file.write_text("".join(f"{h}  {n}\n" for n, h in sorted(got.items())))
    if bad:
        print("make_tiny_models: these files differ from tests/golden/tiny_models.sha256 (the goldens were "
              "made from other bytes): " + ", ".join(bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
