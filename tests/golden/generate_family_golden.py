#!/usr/bin/env python3
# generate_family_golden.py: llama.cpp's output on the tiny random-weight models of
# make_tiny_models.py (qwen3, qwen3moe, gemma3, phi3, mistral, mixtral), written to
# tests/golden/family_<name>.json for test_families (not mistral_swa: llama.cpp ignores the
# window for `llama`, so generate_swa_golden.py makes its golden with HF transformers). Same
# reference and parameters as generate_golden.py (llama-cpp-python 0.3.36, CPU, F32 KV cache, no
# flash attention):
#   - greedy: 32 tokens after each prompt (argmax each step, EOS does not stop), with the top-2
#     margins, so a test can see how close a step came to a tie;
#   - logits: the top-20 (id, logit) at a few positions of each prompt, evaluated in one batch.
# Prompts are text tokenized by llama.cpp (add_special=false, parse_special=true); one per model
# is a chat turn rendered by jinja2 from the model's own tokenizer.chat_template. The prompts are
# longer than gemma3's sliding window (6), so its masked layers are exercised.
# Also writes tests/golden/family_chat.json: renders of each template (jinja2 with HF's settings)
# for a few conversations, the reference for Ridgeline's chat templates.
#   python tests/golden/generate_family_golden.py [--models-dir models/tiny]
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import llama_cpp
from gguf import GGUFReader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_golden import render_chat  # noqa: E402  (jinja2 with HF transformers' settings)
from make_tiny_models import MODELS, NOT_LLAMA_CPP, sha256, write_golden  # noqa: E402

HERE = Path(__file__).resolve().parent
REFERENCE = f"llama-cpp-python {llama_cpp.__version__} (llama.cpp)"
N_GREEDY = 32
TOP_K = 20
PARAMS = dict(n_ctx=1024, n_batch=512, n_ubatch=512, logits_all=True, n_threads=2, n_threads_batch=2,
              n_gpu_layers=0, type_k=0, type_v=0, flash_attn=False, seed=0, verbose=False)
# phi3: llama.cpp picks the LongRoPE factor set by the context it is given (long when n_ctx is
# above rope.scaling.original_context_length); run it at the model's full context, as Ridgeline
# serves it, so the long factors and the attention factor are what is checked.
N_CTX = {"phi3": 8192}

PROMPTS = [
    ("story", False, "Once upon a time, in a small village by the sea, there lived an old fisherman who"),
    ("code", False, "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) +"),
    ("chat", True, "Explain what a KV cache is, in two sentences."),
]

CHATS = [
    ("one_user", [{"role": "user", "content": "What is 2+2?"}], True),
    ("multi_turn", [{"role": "user", "content": "Hi!"},
                    {"role": "assistant", "content": "Hello! How can I help you today?"},
                    {"role": "user", "content": "Tell me a joke about compilers."}], True),
    ("system", [{"role": "system", "content": "You are a terse assistant."},
                {"role": "user", "content": "Capital of Italy?"}], True),
    ("unicode_spaces", [{"role": "user", "content": "  Traduis: «héllo» — 你好 👩‍👩‍👧\n\n  "}], True),
    ("no_gen_prompt", [{"role": "user", "content": "Say ok."}, {"role": "assistant", "content": "Okay."}], False),
    ("think_history", [{"role": "user", "content": "2+2?"},
                       {"role": "assistant", "content": "<think>\nadd them\n</think>\n\n4"},
                       {"role": "user", "content": "And 3+3?"}], True),
]


def gguf_str(path: Path, key: str) -> str:
    f = GGUFReader(str(path)).fields[key]
    return bytes(f.parts[f.data[0]]).decode("utf-8")


def greedy(llm, ids, n):
    llm.reset()
    llm.eval(ids)
    out, margins = [], []
    for step in range(n):
        row = np.asarray(llm.scores[llm.n_tokens - 1], dtype=np.float64)
        top2 = np.argsort(-row, kind="stable")[:2]
        out.append(int(top2[0]))
        margins.append(round(float(row[top2[0]] - row[top2[1]]), 6))
        if step + 1 < n:
            llm.eval([out[-1]])
    return out, margins


def top_at(llm, ids, positions):
    llm.reset()
    llm.eval(ids)
    res = []
    for p in positions:
        row = np.asarray(llm.scores[p], dtype=np.float32)
        idx = np.argsort(-row, kind="stable")[:TOP_K]
        res.append([[int(i), float(row[i])] for i in idx])
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models-dir", default="models/tiny")
    ap.add_argument("--out-dir", default=str(HERE))
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()
    chat_path = Path(a.out_dir) / "family_chat.json"
    chat_out = {"reference": "jinja2 " + __import__("jinja2").__version__ +
                " ImmutableSandboxedEnvironment(trim_blocks, lstrip_blocks), as HF transformers",
                "templates": {}}
    if chat_path.exists():  # --only: keep the other templates' renders
        chat_out["templates"] = json.loads(chat_path.read_text(encoding="utf-8"))["templates"]
    for name in a.only or [n for n in MODELS if n not in NOT_LLAMA_CPP]:
        path = Path(a.models_dir) / f"tiny-{name}.gguf"
        template = gguf_str(path, "tokenizer.chat_template")
        llm = llama_cpp.Llama(model_path=str(path), **{**PARAMS, "n_ctx": N_CTX.get(name, PARAMS["n_ctx"])})
        bos = llm.detokenize([llm.token_bos()], special=True).decode() if llm.token_bos() >= 0 else ""
        eos = llm.detokenize([llm.token_eos()], special=True).decode() if llm.token_eos() >= 0 else ""
        cases = []
        for pname, chat, text in PROMPTS:
            if chat:
                # gemma's template emits bos_token itself; the others' renders carry no BOS here
                # (Ridgeline adds it from the vocab's add_bos flag, as llama.cpp's server does).
                text = render_chat(template, [{"role": "user", "content": text}], True, bos_token="",
                                   eos_token=eos)
            ids = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
            cont, margins = greedy(llm, ids, N_GREEDY)
            positions = sorted({0, len(ids) // 2, len(ids) - 1})
            cases.append({"name": pname, "chat": chat, "prompt_text": text, "prompt_ids": ids,
                          "continuation_ids": cont, "top2_margins": margins,
                          "min_top2_margin": min(margins), "logit_positions": positions,
                          "top_logits": top_at(llm, ids, positions)})
            print(f"{name:9s} {pname:6s} prompt {len(ids):3d} tokens, min margin {min(margins):.4f}")
        obj = {"reference": REFERENCE, "model": path.name, "model_sha256": sha256(path),
               "family": MODELS[name], "llama_params": {**PARAMS, "n_ctx": N_CTX.get(name, PARAMS["n_ctx"])},
               "n_greedy": N_GREEDY, "top_k": TOP_K,
               "notes": "prompt_ids = tokenize(prompt_text, add_special=true, parse_special=true); greedy = "
                        "argmax each step (EOS does not stop); top2_margins[i] = logit(top1) - logit(top2) "
                        "before continuation_ids[i]; top_logits[j] = top-20 (id, logit) at logit_positions[j] "
                        "with the whole prompt in one batch.",
               "cases": cases}
        write_golden(a.out_dir, name, obj)
        renders = []
        for cname, msgs, gen in CHATS:
            try:
                text = render_chat(template, msgs, gen, bos_token=bos, eos_token=eos)
                renders.append({"name": cname, "messages": msgs, "add_generation_prompt": gen, "text": text})
            except Exception as e:  # noqa: BLE001  (a template that refuses a conversation, e.g. gemma's system role)
                renders.append({"name": cname, "messages": msgs, "add_generation_prompt": gen,
                                "error": str(e)})
        chat_out["templates"][MODELS[name]["template"]] = {"bos_token": bos, "eos_token": eos, "renders": renders}
        del llm
    with open(chat_path, "w", encoding="utf-8") as f:
        json.dump(chat_out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
