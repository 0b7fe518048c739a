#!/usr/bin/env python3
"""Generate Ridgeline's independent-reference golden data with llama.cpp.

Reference implementation: llama.cpp through the PyPI package llama-cpp-python
(pinned to 0.3.36 in tests/golden/README.md).  CI never runs this script; the
JSON files it writes are committed and consumed by the C++ tests.

Outputs (in --out-dir, default tests/golden):
  tokens_smollm2.json, tokens_gpt2.json, tokens_llama_bpe.json,
  tokens_qwen2.json, tokens_llama_spm.json   tokenizer cases per vocab
  chat_smollm2.json                           chat-template renders + ids
  greedy_smollm2.json                         48-token greedy continuations
                                              (F32-dequantized weights)
  logits_smollm2.json                         top-5 logits at a few positions

Usage:
  python tests/golden/generate_golden.py [--model M] [--vocab-dir D]
                                         [--out-dir O] [--f32-path P]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

import gguf
from gguf import GGUFReader, GGUFWriter, GGMLQuantizationType, GGUFValueType
import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

import llama_cpp

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPO_ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_VOCAB_DIR = REPO_ROOT / "models" / "vocab"
DEFAULT_OUT_DIR = REPO_ROOT / "tests" / "golden"
DEFAULT_F32_PATH = Path("/tmp/ridgeline_golden/SmolLM2-135M-Instruct.F32.gguf")

N_THREADS = 2
N_GREEDY = 48
MIN_MARGIN = 0.02

REFERENCE = f"llama-cpp-python {llama_cpp.__version__} (llama.cpp)"

# Llama() parameters for the numeric (greedy / logits) runs.  type_k/type_v = 0
# is GGML_TYPE_F32: the KV cache is kept in fp32 (llama.cpp defaults to f16).
# flash_attn=False maps to LLAMA_FLASH_ATTN_TYPE_DISABLED in 0.3.36.
EVAL_PARAMS = dict(
    n_ctx=1024,
    n_batch=512,
    n_ubatch=512,
    logits_all=True,
    n_threads=N_THREADS,
    n_threads_batch=N_THREADS,
    n_gpu_layers=0,
    type_k=0,
    type_v=0,
    flash_attn=False,
    seed=0,
    verbose=False,
)


# --------------------------------------------------------------------------
# Tokenizer cases
# --------------------------------------------------------------------------

PY_CODE = (
    "def fibonacci(n):\n"
    "    if n < 2:\n"
    "        return n\n"
    "    return fibonacci(n - 1) + fibonacci(n - 2)\n"
)
CPP_CODE = (
    "template <typename T>\n"
    "int main(int argc, char** argv) {\n"
    "\tfor (int i = 0; i < argc; ++i) { std::cout << argv[i] << '\\n'; }\n"
    "\treturn 0;\n"
    "}\n"
)
JSON_TEXT = '{"name": "Ridgeline", "tags": ["llm", "c++20"], "n": 42, "ok": true, "x": null}'

SHARED_TEXTS = [
    "",
    " ",
    "  ",
    "\t",
    "\n",
    "\n\n\n",
    "   leading",
    "trailing   ",
    " \t\n mixed",
    "a" + " " * 20 + "b",
    "line one\r\nline two\r\n",
    "Hello world",
    " Hello world",
    "hello  world",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure you don't know what it's like. We'LL SEE, they've said; she'd've.",
    "I'm",
    "don't",
    "We'LL",
    "it's",
    "123",
    "1234567",
    "3.14159",
    "1,000,000",
    "2024-11-22",
    "12345678901234567890",
    "Version v2.0.1-rc3 costs $19.99 (~20%)",
    PY_CODE,
    CPP_CODE,
    JSON_TEXT,
    "https://github.com/ggerganov/llama.cpp/blob/master/README.md?x=1&y=2#usage",
    "Emoji: 😀 👍🏽 🚀",
    "👩‍👩‍👧",
    "🇫🇷🇯🇵",
    "你好，世界",
    "こんにちは、世界！カタカナとひらがな。",
    "안녕하세요 세계",
    "مرحبا بالعالم",
    "नमस्ते दुनिया, क्षत्रिय",
    "café naïve résumé",  # NFC
    "cafe\u0301 nai\u0308ve re\u0301sume\u0301",  # NFD (combining marks)
    "Привет, мир! Ёлка",
    "∀x ∈ ℝ: x² ≥ 0, ∑ᵢ αᵢ ≤ √π ≠ ∞",
    "McDonald's O'Neill can'T ISN'T",
    "Pneumonoultramicroscopicsilicovolcanoconiosis",
    "abcdefghijklmnopqrstuvwxyz" * 6,
    "!!!!???....",
    "----====____****",
    "\u00a0",
    "\u200b",
    "a\u00a0b\u200bc",
    "Ä Ö Ü ß ẞ ÿ Ÿ",
]

# Special-token strings per vocab (only those present in the vocab are used).
SPECIAL_TEXTS = {
    "smollm2": [
        "<|im_start|>user\nHi<|im_end|>\n",
        "<|endoftext|>",
        "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n",
        "text<|endoftext|>more text",
    ],
    "gpt2": ["<|endoftext|>", "Hello<|endoftext|>world"],
    "llama_bpe": [
        "<|begin_of_text|>Hello<|eot_id|>",
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
        "<|end_of_text|>",
    ],
    "qwen2": [
        "<|im_start|>user\nHi<|im_end|>\n",
        "<|endoftext|>",
        "<|im_start|>assistant\nok<|im_end|>",
    ],
    "llama_spm": ["<s>Hello</s>", " <s> [INST] Hi [/INST]</s>", "</s>"],
}

# Cases that are also run with add_bos=True (llama_tokenize add_special=True).
ADD_BOS_TEXTS = [
    "",
    " ",
    "Hello world",
    " Hello world",
    "\n\n\n",
    "   leading",
    "I'm sure you don't know what it's like. We'LL SEE, they've said; she'd've.",
    "你好，世界",
    PY_CODE,
]

VOCABS = [
    # (key, output file name, path-resolver)
    ("smollm2", "tokens_smollm2.json", None),
    ("gpt2", "tokens_gpt2.json", "ggml-vocab-gpt-2.gguf"),
    ("llama_bpe", "tokens_llama_bpe.json", "ggml-vocab-llama-bpe.gguf"),
    ("qwen2", "tokens_qwen2.json", "ggml-vocab-qwen2.gguf"),
    ("llama_spm", "tokens_llama_spm.json", "ggml-vocab-llama-spm.gguf"),
]


def gguf_str(reader: GGUFReader, key: str):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def detokenize_native(llm: llama_cpp.Llama, ids: list[int]) -> bytes:
    """llama.cpp's own llama_detokenize(remove_special=False, unparse_special=True).

    Used instead of Llama.detokenize() because the python wrapper
    concatenates llama_token_to_piece() through a 32-byte buffer (wrong for
    longer pieces) and applies its own leading-space heuristic.
    """
    vocab = llm._model.vocab
    n = len(ids)
    arr = (llama_cpp.llama_token * max(n, 1))(*ids)
    size = 64 + 64 * n
    buf = ctypes.create_string_buffer(size)
    r = llama_cpp.llama_detokenize(vocab, arr, n, buf, size, False, True)
    if r < 0:
        size = -r + 1
        buf = ctypes.create_string_buffer(size)
        r = llama_cpp.llama_detokenize(vocab, arr, n, buf, size, False, True)
        assert r >= 0
    return buf.raw[:r]


def token_piece(llm: llama_cpp.Llama, tok: int) -> bytes:
    vocab = llm._model.vocab
    size = 256
    buf = ctypes.create_string_buffer(size)
    n = llama_cpp.llama_token_to_piece(vocab, tok, buf, size, 0, True)
    assert 0 <= n <= size, (tok, n)
    return buf.raw[:n]


def gen_tokens(key: str, path: Path, out_path: Path) -> None:
    reader = GGUFReader(str(path))
    tok_model = gguf_str(reader, "tokenizer.ggml.model")
    pre = gguf_str(reader, "tokenizer.ggml.pre")
    vocab_tokens = set(gguf_str(reader, "tokenizer.ggml.tokens"))
    del reader

    llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)

    cases = []

    def add(text: str, add_bos: bool, parse_special: bool):
        ids = llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=parse_special)
        rt = detokenize_native(llm, ids).decode("utf-8", errors="replace")
        cases.append({
            "text": text,
            "add_bos": add_bos,
            "parse_special": parse_special,
            "ids": ids,
            "pieces_roundtrip": rt,
            "pieces_hex": [token_piece(llm, t).hex() for t in ids],
        })

    for t in SHARED_TEXTS:
        add(t, False, True)
    for t in SPECIAL_TEXTS[key]:
        # only keep strings whose special tokens exist in this vocab
        specials = re.findall(r"<\|[^|]*\|>|</?s>", t)
        if not all(s in vocab_tokens for s in specials):
            print(f"  [{key}] skip special case {t!r}: token missing from vocab")
            continue
        add(t, False, True)
        add(t, False, False)
    for t in ADD_BOS_TEXTS:
        add(t, True, True)

    # what llama.cpp's add_special actually adds for this vocab
    bos_probe = llm.tokenize(b"", add_bos=True, special=True)
    out = {
        "reference": REFERENCE,
        "model": path.name,
        "tokenizer_model": tok_model,
        "pre": pre,
        "bos_id": llm.token_bos(),
        "eos_id": llm.token_eos(),
        "add_special_adds": bos_probe,
        "notes": (
            "ids = Llama.tokenize(text.encode('utf-8'), add_bos=add_bos, special=parse_special), i.e. "
            "llama_tokenize(add_special=add_bos, parse_special). add_special only inserts BOS/EOS "
            "when the vocab asks for it (see add_special_adds = tokenize('', add_special=True)). "
            "pieces_roundtrip = llama_detokenize(ids, remove_special=False, unparse_special=True) "
            "decoded as UTF-8 with errors='replace'. pieces_hex[i] = llama_token_to_piece(ids[i], "
            "lstrip=0, special=True) bytes as hex."
        ),
        "cases": cases,
    }
    write_json(out_path, out)
    print(f"  wrote {out_path.name}: {len(cases)} cases, tokenizer={tok_model}, pre={pre}, "
          f"add_special_adds={bos_probe}")
    llm.close()


# --------------------------------------------------------------------------
# Chat template
# --------------------------------------------------------------------------

def make_jinja_env() -> ImmutableSandboxedEnvironment:
    # Same environment HF transformers uses for chat templates.
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])

    def raise_exception(msg):
        raise jinja2.exceptions.TemplateError(msg)

    env.filters["tojson"] = lambda x, indent=None, ensure_ascii=False: json.dumps(
        x, indent=indent, ensure_ascii=ensure_ascii)
    env.globals["raise_exception"] = raise_exception
    return env


def render_chat(template: str, messages, add_generation_prompt=True, bos_token="", eos_token="") -> str:
    env = make_jinja_env()
    return env.from_string(template).render(
        messages=messages, add_generation_prompt=add_generation_prompt,
        bos_token=bos_token, eos_token=eos_token)


CHAT_CONVERSATIONS = [
    ([{"role": "user", "content": "What is 2+2?"}], True),
    ([{"role": "system", "content": "You are a terse assistant. Answer in one word."},
      {"role": "user", "content": "Capital of Italy?"}], True),
    ([{"role": "user", "content": "Hi!"},
      {"role": "assistant", "content": "Hello! How can I help you today?"},
      {"role": "user", "content": "Tell me a joke about compilers."}], True),
    ([{"role": "user", "content": "Traduis: «héllo» — 你好，世界 👩‍👩‍👧 Привет"}], True),
    ([{"role": "user", "content": ""}], True),
    ([{"role": "system", "content": ""},
      {"role": "user", "content": "  spaces and\nnewlines\n\n  inside  "}], True),
    ([{"role": "user", "content": "No generation prompt here."},
      {"role": "assistant", "content": "Okay."}], False),
]


def gen_chat(model_path: Path, template: str, out_path: Path, llm_vocab) -> None:
    cases = []
    for messages, agp in CHAT_CONVERSATIONS:
        text = render_chat(template, messages, agp)
        ids = llm_vocab.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        cases.append({"messages": messages, "add_generation_prompt": agp, "text": text, "ids": ids})
    out = {
        "reference": REFERENCE,
        "model": model_path.name,
        "renderer": f"jinja2 {jinja2.__version__} ImmutableSandboxedEnvironment(trim_blocks=True, "
                    "lstrip_blocks=True) as in HF transformers; bos_token='' eos_token=''",
        "chat_template": template,
        "notes": "ids = llama.cpp tokenize(text, add_special=False, parse_special=True)",
        "cases": cases,
    }
    write_json(out_path, out)
    print(f"  wrote {out_path.name}: {len(cases)} cases")


# --------------------------------------------------------------------------
# F32 copy of the model
# --------------------------------------------------------------------------

def make_f32_gguf(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    reader = GGUFReader(str(src))
    arch = reader.fields["general.architecture"].contents()
    writer = GGUFWriter(str(dst), arch)
    n_kv = 0
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        vtype = field.types[0]
        val = field.contents()
        if key == "general.file_type":
            val = int(gguf.LlamaFileType.ALL_F32)
        if vtype == GGUFValueType.ARRAY:
            writer.add_key_value(key, val, vtype, sub_type=field.types[-1])
        else:
            writer.add_key_value(key, val, vtype)
        n_kv += 1
    counts: dict[str, int] = {}
    for t in reader.tensors:
        np_shape = tuple(int(x) for x in reversed(t.shape))  # gguf shape is ne[0]-first
        if t.tensor_type == GGMLQuantizationType.F32:
            arr = np.asarray(t.data, dtype=np.float32).reshape(np_shape)
        else:
            arr = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
            assert arr.shape == np_shape, (t.name, arr.shape, np_shape)
        assert np.isfinite(arr).all(), t.name
        counts[t.tensor_type.name] = counts.get(t.tensor_type.name, 0) + 1
        writer.add_tensor(t.name, np.ascontiguousarray(arr))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"  wrote {dst} ({dst.stat().st_size / 2**20:.1f} MiB): {n_kv} KV + architecture, "
          f"{len(reader.tensors)} tensors dequantized from {counts}")


# --------------------------------------------------------------------------
# Independent cross-check: plain numpy fp32 forward pass on the F32 weights
# --------------------------------------------------------------------------

def numpy_forward_logits(f32_path: Path, ids: list[int]) -> np.ndarray:
    """Llama forward pass in numpy (fp32 weights, fp32 math, fp64 RMS sum).

    Used only to check that the F32 copy and llama.cpp's logits agree with a
    from-scratch implementation; returns logits [len(ids), n_vocab].
    """
    r = GGUFReader(str(f32_path))
    kv = lambda k: r.fields[k].contents()
    d, n_layer = kv("llama.embedding_length"), kv("llama.block_count")
    nh, nkv = kv("llama.attention.head_count"), kv("llama.attention.head_count_kv")
    eps, base = kv("llama.attention.layer_norm_rms_epsilon"), kv("llama.rope.freq_base")
    hd = d // nh
    W = {t.name: np.asarray(t.data, dtype=np.float32).reshape(tuple(int(x) for x in reversed(t.shape)))
         for t in r.tensors}

    def rms(x, w):
        return (x / np.sqrt((x.astype(np.float64) ** 2).mean(-1, keepdims=True) + eps)).astype(np.float32) * w

    T = len(ids)
    pos = np.arange(T, dtype=np.float64)
    theta = pos[:, None] * base ** (-2 * np.arange(hd // 2) / hd)
    cos, sin = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]

    def rope(x):  # GGML "NORM" rope: rotate adjacent pairs (2i, 2i+1)
        o = np.empty_like(x)
        x0, x1 = x[..., 0::2], x[..., 1::2]
        o[..., 0::2] = x0 * cos - x1 * sin
        o[..., 1::2] = x0 * sin + x1 * cos
        return o

    mask = np.triu(np.full((T, T), -np.inf), 1)[None]
    x = W["token_embd.weight"][ids]
    for l in range(n_layer):
        p = f"blk.{l}."
        h = rms(x, W[p + "attn_norm.weight"])
        q = rope((h @ W[p + "attn_q.weight"].T).reshape(T, nh, hd))
        k = rope((h @ W[p + "attn_k.weight"].T).reshape(T, nkv, hd))
        v = (h @ W[p + "attn_v.weight"].T).reshape(T, nkv, hd)
        k, v = np.repeat(k, nh // nkv, axis=1), np.repeat(v, nh // nkv, axis=1)
        s = np.einsum("thd,shd->hts", q, k) / np.sqrt(hd) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        x = x + np.einsum("hts,shd->thd", s, v).reshape(T, d) @ W[p + "attn_output.weight"].T
        h = rms(x, W[p + "ffn_norm.weight"])
        g, u = h @ W[p + "ffn_gate.weight"].T, h @ W[p + "ffn_up.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * u) @ W[p + "ffn_down.weight"].T
    out_w = W.get("output.weight", W["token_embd.weight"])
    return rms(x, W["output_norm.weight"]) @ out_w.T


# --------------------------------------------------------------------------
# Greedy / logits
# --------------------------------------------------------------------------

PLAIN_PROMPTS = [
    ("capital_france", "The capital of France is"),
    ("fibonacci", "def fibonacci(n):"),
    ("once_upon", "Once upon a time"),
    # replacements, used only if one of the above has a near-tie
    ("water_boils", "Water boils at a temperature of"),
    ("list_primes", "The first five prime numbers are"),
    ("hello_cpp", "#include <iostream>\n\nint main() {"),
]
CHAT_PROMPTS = [
    ("chat_2plus2", "What is 2+2?"),
    ("chat_haiku_gpu", "Write a haiku about GPUs."),
    ("chat_kv_cache", "Explain KV caching in one sentence."),
    # replacements
    ("chat_colors", "Name three primary colors."),
    ("chat_python", "How do I reverse a list in Python?"),
    ("chat_moon", "How far is the Moon from Earth?"),
]


def greedy(llm: llama_cpp.Llama, prompt_ids: list[int], n: int):
    llm.reset()
    llm.eval(prompt_ids)
    out, margins = [], []
    for step in range(n):
        logits = np.asarray(llm.scores[llm.n_tokens - 1], dtype=np.float64)
        top2 = np.argsort(-logits, kind="stable")[:2]
        tok = int(np.argmax(logits))
        assert tok == int(top2[0])
        margins.append(float(logits[top2[0]] - logits[top2[1]]))
        out.append(tok)
        if step + 1 < n:
            llm.eval([tok])
    return out, margins


def top5_at(llm: llama_cpp.Llama, prompt_ids: list[int], positions: list[int]):
    llm.reset()
    llm.eval(prompt_ids)  # one batch: len(prompt) <= n_batch
    res = []
    for p in positions:
        row = np.asarray(llm.scores[p], dtype=np.float32)
        idx = np.argsort(-row, kind="stable")[:5]
        res.append([[int(i), float(row[i])] for i in idx])
    return res


def write_json(path: Path, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--vocab-dir", type=Path, default=DEFAULT_VOCAB_DIR)
    ap.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    ap.add_argument("--f32-path", type=Path, default=DEFAULT_F32_PATH,
                    help="where to write the F32-dequantized model (not in the repo)")
    ap.add_argument("--skip-tokens", action="store_true")
    ap.add_argument("--skip-eval", action="store_true", help="skip greedy/logits/F32 conversion")
    args = ap.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    print(f"reference: {REFERENCE}; gguf-py {getattr(gguf, '__version__', '?')}, numpy {np.__version__}, "
          f"jinja2 {jinja2.__version__}")
    print(f"llama.cpp system info: {llama_cpp.llama_print_system_info().decode().strip()}")

    # ---- tokenizers
    if not args.skip_tokens:
        print("[1] tokenizer cases")
        for key, out_name, vocab_file in VOCABS:
            path = args.model if vocab_file is None else args.vocab_dir / vocab_file
            gen_tokens(key, path, args.out_dir / out_name)

    # ---- chat template
    print("[2] chat template")
    template = GGUFReader(str(args.model)).fields["tokenizer.chat_template"].contents()
    vocab_llm = llama_cpp.Llama(model_path=str(args.model), vocab_only=True, verbose=False)
    gen_chat(args.model, template, args.out_dir / "chat_smollm2.json", vocab_llm)

    if args.skip_eval:
        return 0

    # ---- F32 model
    print("[3] F32 copy of the model")
    make_f32_gguf(args.model, args.f32_path)
    llm = llama_cpp.Llama(model_path=str(args.f32_path), **EVAL_PARAMS)
    print(f"  loaded F32 model, n_ctx={llm.n_ctx()}, n_vocab={llm.n_vocab()}")

    def prompt_ids_for(chat: bool, text: str):
        rendered = render_chat(template, [{"role": "user", "content": text}], True) if chat else text
        return rendered, llm.tokenize(rendered.encode("utf-8"), add_bos=False, special=True)

    # greedy
    print(f"[4] greedy {N_GREEDY}-token continuations (F32)")
    greedy_cases = []
    for chat, pool in ((False, PLAIN_PROMPTS), (True, CHAT_PROMPTS)):
        accepted = 0
        for name, text in pool:
            if accepted == 3:
                break
            rendered, ids = prompt_ids_for(chat, text)
            cont, margins = greedy(llm, ids, N_GREEDY)
            mm = min(margins)
            cont_text = detokenize_native(llm, cont).decode("utf-8", errors="replace")
            if mm < MIN_MARGIN:
                print(f"  REJECT {name}: min top2 margin {mm:.4f} < {MIN_MARGIN} at step "
                      f"{int(np.argmin(margins))}; trying a replacement prompt")
                continue
            accepted += 1
            print(f"  {name}: {len(ids)} prompt tokens, min margin {mm:.4f} -> {cont_text!r}")
            greedy_cases.append({
                "name": name, "chat": chat, "user_text": text if chat else None,
                "prompt_text": rendered, "prompt_ids": ids,
                "continuation_ids": cont, "continuation_text": cont_text,
                "min_top2_margin": round(mm, 6),
                "top2_margins": [round(m, 5) for m in margins],
            })
        if accepted < 3:
            print(f"  WARNING: only {accepted} {'chat' if chat else 'plain'} prompts passed the margin check")

    # logits
    print("[5] top-5 logits")
    logit_cases = []
    for name, chat, text in (("capital_france", False, "The capital of France is"),
                             ("fibonacci_code", False, "def fibonacci(n):\n    if n < 2:\n        return n\n    return"),
                             ("chat_2plus2", True, "What is 2+2?")):
        rendered, ids = prompt_ids_for(chat, text)
        n = len(ids)
        positions = sorted(set([0, 1, n // 2, n - 1]))
        top5 = top5_at(llm, ids, positions)
        logit_cases.append({"name": name, "chat": chat, "prompt_text": rendered, "prompt_ids": ids,
                            "positions": positions, "top5": top5})
        print(f"  {name}: {n} tokens, positions {positions}, last top1 {top5[-1][0]}")
    llm.close()

    print("[5b] cross-check llama.cpp F32 logits against a numpy fp32 forward pass")
    for c in logit_cases:
        ref = numpy_forward_logits(args.f32_path, c["prompt_ids"])
        diff, ids_ok = 0.0, True
        for p, t5 in zip(c["positions"], c["top5"]):
            diff = max(diff, max(abs(float(ref[p][i]) - v) for i, v in t5))
            ids_ok &= [int(i) for i in np.argsort(-ref[p], kind="stable")[:5]] == [i for i, _ in t5]
        c["info_numpy_fp32_max_abs_diff"] = float(f"{diff:.3g}")
        print(f"  {c['name']}: max |numpy - llama.cpp| over top-5 = {diff:.2e}, top-5 ids "
              f"{'identical' if ids_ok else 'DIFFER'}")
        if not ids_ok or diff > 1e-3:
            print("  WARNING: numpy cross-check disagrees with llama.cpp F32 run")

    # ---- Q4_1 comparison (information only)
    print("[6] original Q4_1 model vs F32 (information only)")
    q = llama_cpp.Llama(model_path=str(args.model), **EVAL_PARAMS)
    q41_info = []
    for c in greedy_cases:
        cont, margins = greedy(q, c["prompt_ids"], N_GREEDY)
        ref = c["continuation_ids"]
        prefix = next((i for i, (a, b) in enumerate(zip(cont, ref)) if a != b), N_GREEDY)
        same = sum(a == b for a, b in zip(cont, ref))
        q41_info.append({"name": c["name"], "matching_prefix": prefix, "positionwise_equal": same,
                         "q4_1_continuation_text": detokenize_native(q, cont).decode("utf-8", errors="replace")})
        print(f"  {c['name']}: matching prefix {prefix}/{N_GREEDY}, position-wise equal {same}/{N_GREEDY}")
    q41_logits = []
    for c in logit_cases:
        q.reset()
        q.eval(c["prompt_ids"])
        diffs = []
        for p, t5 in zip(c["positions"], c["top5"]):
            row = np.asarray(q.scores[p])
            diffs.append(max(abs(float(row[i]) - v) for i, v in t5))
        q41_logits.append({"name": c["name"], "max_abs_diff_top5": round(max(diffs), 4)})
        print(f"  {c['name']}: max |logit(Q4_1) - logit(F32)| over recorded top-5 = {max(diffs):.4f}")
    q.close()

    common = {
        "reference": REFERENCE,
        "model": args.model.name,
        "weights": "F32 dequantized from Q4_1 by gguf-py",
        "llama_params": {k: v for k, v in EVAL_PARAMS.items() if k != "verbose"},
        "llama_params_notes": "type_k=type_v=0 is GGML_TYPE_F32 KV cache; flash_attn=False -> "
                              "LLAMA_FLASH_ATTN_TYPE_DISABLED; CPU backend",
    }
    write_json(args.out_dir / "greedy_smollm2.json", {
        **common,
        "n_greedy": N_GREEDY,
        "notes": "greedy = argmax of logits each step (ties -> lowest id); EOS does not stop generation. "
                 "prompt_ids = tokenize(prompt_text, add_special=False, parse_special=True). "
                 "top2_margins[i] = logit(top1) - logit(top2) before emitting continuation_ids[i].",
        "cases": greedy_cases,
        "info_q4_1_vs_f32": q41_info,
    })
    write_json(args.out_dir / "logits_smollm2.json", {
        **common,
        "notes": "prompt evaluated in one batch; top5[k] = 5 largest (id, logit) at positions[k]",
        "cases": logit_cases,
        "info_q4_1_vs_f32": q41_logits,
    })
    print("  wrote greedy_smollm2.json, logits_smollm2.json")

    for name in [v[1] for v in VOCABS] + ["chat_smollm2.json", "greedy_smollm2.json", "logits_smollm2.json"]:
        p = args.out_dir / name
        if p.exists():
            print(f"  {name}: {p.stat().st_size} bytes")
    print(f"done in {time.time() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
