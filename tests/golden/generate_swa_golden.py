#!/usr/bin/env python3
# generate_swa_golden.py: the reference for Mistral's sliding window with prompts far longer than
# the window, written to tests/golden/family_mistral_swa.json (same format as the family_*.json of
# generate_family_golden.py) for test_families and test_sliding_window.
#
# Reference: Hugging Face transformers' MistralForCausalLM (eager attention, fp32, CPU), not
# llama.cpp: llama-cpp-python 0.3.36 (llama.cpp 0c1e57098) ignores llama.attention.sliding_window
# for the `llama` arch (src/models/llama.cpp, llama_model_llama::load_arch_hparams, reads no
# sliding-window key, so hparams.swa_type stays LLAMA_SWA_TYPE_NONE and every layer attends to the
# whole context). transformers masks key j for query p unless j > p - sliding_window, Ridgeline's
# rule (model_config.h) and llama.cpp's LLAMA_SWA_TYPE_STANDARD.
#
# The model is tiny-mistral_swa.gguf (make_tiny_models.py: window 8). Its F32 tensors go into HF's
# layout by undoing convert_hf_to_gguf's q/k row permutation (GGUF's llama arch rotates adjacent
# pairs, HF rotate_half). Each step runs the whole sequence again (no KV cache), so the window is
# the attention mask alone. Prompt ids come from transformers' GGUF tokenizer. Before writing, the
# script checks itself, and stops if any check fails:
#   - the same conversion of tiny-mistral.gguf (window 4096, longer than any prompt) reproduces
#     llama.cpp's family_mistral.json: every greedy token, the top-20 logits within 1e-4, and the
#     tokenizer gives its prompt ids;
#   - the window matters: with sliding_window=None the greedy continuation of every prompt
#     differs, and so does the last prompt position's top-20 (recorded as "without_window").
# Greedy and logits as generate_family_golden.py: 32 argmax tokens (EOS does not stop) with top-2
# margins; top-20 (id, logit) at 3 positions with the whole prompt in one pass. The prompts are
# 41-62 tokens, so prompt + continuation fits test_families' batched tables (96 positions).
#   python3 -m venv /tmp/hf && /tmp/hf/bin/pip install torch==2.15.0 transformers==5.25.0 \
#     gguf==0.19.0 numpy jinja2 && /tmp/hf/bin/python tests/golden/generate_swa_golden.py
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import transformers
from gguf import GGUFReader
from transformers import AutoTokenizer, MistralConfig, MistralForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_tiny_models import MODELS, sha256, write_golden  # noqa: E402

HERE = Path(__file__).resolve().parent
NAME = "mistral_swa"
N_GREEDY = 32
TOP_K = 20
PROMPTS = [
    ("story", False, "Once upon a time, in a small village by the sea, there lived an old fisherman "
                     "who had a boat, a dog and a daughter. Every morning before the sun rose he walked "
                     "down to the harbour, and every evening"),
    ("code", False, "def merge_sorted(a, b):\n    out = []\n    i = j = 0\n    while i < len(a) and j < len(b):\n"
                    "        if a[i] <= b[j]:\n            out.append(a[i])\n"),
    ("chat", True, "My program reads a large log file line by line and counts the errors, but it is slow. "
                   "What should I try first to make it faster, and why?"),
]


def load_hf(path: Path, window):
    """MistralForCausalLM with the GGUF's weights; window None = full attention."""
    r = GGUFReader(str(path))
    kv = {k: f.contents() for k, f in r.fields.items() if k.startswith("llama.")}
    t = {x.name: np.array(x.data) for x in r.tensors}
    H, KV = int(kv["llama.attention.head_count"]), int(kv["llama.attention.head_count_kv"])
    L = int(kv["llama.block_count"])
    cfg = MistralConfig(vocab_size=t["token_embd.weight"].shape[0], hidden_size=int(kv["llama.embedding_length"]),
                        intermediate_size=int(kv["llama.feed_forward_length"]), num_hidden_layers=L,
                        num_attention_heads=H, num_key_value_heads=KV, head_dim=t["blk.0.attn_q.weight"].shape[0] // H,
                        max_position_embeddings=int(kv["llama.context_length"]),
                        rms_norm_eps=float(kv["llama.attention.layer_norm_rms_epsilon"]),
                        rope_parameters={"rope_type": "default", "rope_theta": float(kv["llama.rope.freq_base"])},
                        sliding_window=window, tie_word_embeddings=False, dtype=torch.float32)
    cfg._attn_implementation = "eager"

    def unpermute(w, n):  # inverse of convert_hf_to_gguf's LlamaModel.permute
        return w.reshape(n, w.shape[0] // n // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)

    sd = {"model.embed_tokens.weight": t["token_embd.weight"], "model.norm.weight": t["output_norm.weight"],
          "lm_head.weight": t["output.weight"]}
    for l in range(L):
        p, q = f"blk.{l}.", f"model.layers.{l}."
        sd.update({q + "input_layernorm.weight": t[p + "attn_norm.weight"],
                   q + "post_attention_layernorm.weight": t[p + "ffn_norm.weight"],
                   q + "self_attn.q_proj.weight": unpermute(t[p + "attn_q.weight"], H),
                   q + "self_attn.k_proj.weight": unpermute(t[p + "attn_k.weight"], KV),
                   q + "self_attn.v_proj.weight": t[p + "attn_v.weight"],
                   q + "self_attn.o_proj.weight": t[p + "attn_output.weight"],
                   q + "mlp.gate_proj.weight": t[p + "ffn_gate.weight"],
                   q + "mlp.up_proj.weight": t[p + "ffn_up.weight"],
                   q + "mlp.down_proj.weight": t[p + "ffn_down.weight"]})
    m = MistralForCausalLM(cfg).to(torch.float32).eval()
    m.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}, strict=True)
    assert m.config._attn_implementation == "eager" and m.config.sliding_window == window
    return m


@torch.no_grad()
def all_logits(m, ids):
    return m(torch.tensor([ids])).logits[0].double().numpy()


def greedy(m, ids, n):
    seq, out, margins = list(ids), [], []
    for _ in range(n):
        row = all_logits(m, seq)[-1]
        top2 = np.argsort(-row, kind="stable")[:2]
        out.append(int(top2[0]))
        margins.append(round(float(row[top2[0]] - row[top2[1]]), 6))
        seq.append(out[-1])
    return out, margins


def top_at(m, ids, positions):
    rows = all_logits(m, ids).astype(np.float32)
    return [[[int(i), float(rows[p][i])] for i in np.argsort(-rows[p], kind="stable")[:TOP_K]] for p in positions]


def check_against_llama_cpp(models_dir: Path, tok_dir: Path) -> None:
    """The conversion and tokenizer reproduce llama.cpp where the window does not matter."""
    g = json.loads((HERE / "family_mistral.json").read_text(encoding="utf-8"))
    path = models_dir / "tiny-mistral.gguf"
    assert sha256(path) == g["model_sha256"], "tiny-mistral.gguf is not the model family_mistral.json was made from"
    m = load_hf(path, MODELS["mistral"]["swa"])
    tok = AutoTokenizer.from_pretrained(str(tok_dir), gguf_file=path.name)
    worst = 0.0
    for c in g["cases"]:
        assert tok(c["prompt_text"])["input_ids"] == c["prompt_ids"], f"tokenizer differs from llama.cpp on {c['name']}"
        assert greedy(m, c["prompt_ids"], N_GREEDY)[0] == c["continuation_ids"], f"greedy differs on {c['name']}"
        rows = all_logits(m, c["prompt_ids"])
        for p, top in zip(c["logit_positions"], c["top_logits"]):
            worst = max(worst, max(abs(rows[p][i] - v) for i, v in top))
    assert worst < 1e-4, f"logits differ from llama.cpp by {worst}"
    print(f"self-check: tiny-mistral matches llama.cpp's golden (max |logit diff| {worst:.2g})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models-dir", default="models/tiny")
    ap.add_argument("--out-dir", default=str(HERE))
    a = ap.parse_args()
    models_dir = Path(a.models_dir)
    check_against_llama_cpp(models_dir, models_dir)
    path = models_dir / f"tiny-{NAME}.gguf"
    window = MODELS[NAME]["swa"]
    m, full = load_hf(path, window), load_hf(path, None)
    tok = AutoTokenizer.from_pretrained(str(models_dir), gguf_file=path.name)
    cases = []
    for pname, chat, text in PROMPTS:
        if chat:  # HF's own render; no BOS in the text (the ids get it, as in the other goldens)
            text = tok.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                           add_generation_prompt=True, bos_token="")
        ids = tok(text)["input_ids"]
        assert ids[0] == tok.bos_token_id and len(ids) > 4 * window and len(ids) + N_GREEDY <= 96, (pname, len(ids))
        cont, margins = greedy(m, ids, N_GREEDY)
        positions = sorted({0, len(ids) // 2, len(ids) - 1})
        top = top_at(m, ids, positions)
        # Without the window: the continuation and the last position's top-20 must differ.
        cont_full = greedy(full, ids, N_GREEDY)[0]
        top_full = top_at(full, ids, [len(ids) - 1])[0]
        assert cont_full != cont, f"{pname}: the window does not change the greedy continuation"
        assert [i for i, _ in top_full] != [i for i, _ in top[-1]], f"{pname}: the window does not change the top-20"
        first_diff = next(i for i, (x, y) in enumerate(zip(cont, cont_full)) if x != y)
        cases.append({"name": pname, "chat": chat, "prompt_text": text, "prompt_ids": ids,
                      "continuation_ids": cont, "top2_margins": margins, "min_top2_margin": min(margins),
                      "logit_positions": positions, "top_logits": top,
                      "without_window": {"continuation_ids": cont_full, "first_differing_step": first_diff}})
        print(f"{NAME} {pname:6s} prompt {len(ids):3d} tokens, min margin {min(margins):.4f}, "
              f"without the window the greedy tokens differ from step {first_diff}")
    obj = {"reference": f"transformers {transformers.__version__} MistralForCausalLM (eager attention, fp32), "
                        f"torch {torch.__version__}",
           "model": path.name, "model_sha256": sha256(path), "family": MODELS[NAME],
           "hf_params": {"sliding_window": window, "attn_implementation": "eager", "dtype": "float32",
                         "kv_cache": False},
           "n_greedy": N_GREEDY, "top_k": TOP_K,
           "notes": "prompt_ids = transformers' GGUF tokenizer (BOS added), checked against llama.cpp's ids on "
                    "family_mistral.json; greedy = argmax each step over the whole sequence (EOS does not stop); "
                    "top2_margins[i] = logit(top1) - logit(top2) before continuation_ids[i]; top_logits[j] = "
                    "top-20 (id, logit) at logit_positions[j]; without_window = the same model with "
                    "sliding_window=None.",
           "cases": cases}
    write_golden(a.out_dir, NAME, obj)
    return 0


if __name__ == "__main__":
    sys.exit(main())
