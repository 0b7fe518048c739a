#!/usr/bin/env python3
"""make_seeds.py: seed inputs for the fuzz targets in tests/fuzz/.

  make_seeds.py --committed DIR     small synthetic seeds (a few KB each) for every target into
                                    DIR/<target>/ (what tests/fuzz/corpus/ holds; rerun to refresh)
  make_seeds.py --from-models MODELS_DIR OUT_DIR
                                    run-time gguf seeds derived from the real files, never
                                    committed: the default model's header + metadata cut where
                                    the tensor data begins (1.7 MB; libFuzzer's -max_len cuts it
                                    further), and each real file re-written with its arrays
                                    trimmed to 512 entries and a few small tensors, so a seed
                                    parses completely and reaches the config, tokenizer and
                                    template code with real keys and real vocabulary entries.
Pure standard library (python3 only)."""
import os
import struct
import sys

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
SCALAR = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?",
          U64: "Q", I64: "q", F64: "d"}
# ggml type -> (elements per block, bytes per block)
GGML = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
        12: (256, 144), 13: (256, 176), 14: (256, 210), 30: (1, 2)}


# --- writer --------------------------------------------------------------------------------
def enc_str(s):
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def enc_val(t, v):
    if t in SCALAR:
        return struct.pack("<" + SCALAR[t], v)
    if t == STR:
        return enc_str(v)
    et, items = v
    return struct.pack("<IQ", et, len(items)) + b"".join(enc_val(et, x) for x in items)


def gguf(kvs, tensors=(), version=3, alignment=32):
    """kvs: [(key, type, value)], arrays as (ARR, (elem_type, [values])).
    tensors: [(name, [dims], ggml_type, data bytes)]; offsets are laid out here."""
    out = struct.pack("<IIQQ", 0x46554747, version, len(tensors), len(kvs))
    for k, t, v in kvs:
        out += enc_str(k) + struct.pack("<I", t) + enc_val(t, v)
    data, infos = b"", b""
    for name, dims, gt, blob in tensors:
        data += b"\0" * (-len(data) % alignment)
        infos += enc_str(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<q", d) for d in dims)
        infos += struct.pack("<IQ", gt, len(data))
        data += blob
    out += infos
    out += b"\0" * (-len(out) % alignment)
    return out + data


def tensor_bytes(dims, gt):
    n = 1
    for d in dims:
        n *= d
    be, bb = GGML[gt]
    return n // be * bb


def pattern(n, seed=1):
    # Deterministic, plausible-ish bytes (small fp16/fp32 values would be nicer; any bytes are valid).
    return bytes((i * 73 + seed * 31) & 0x3F for i in range(n))


# --- reader (for the real files) -----------------------------------------------------------
class Reader:
    def __init__(self, data):
        self.d, self.p = data, 0

    def take(self, fmt):
        v = struct.unpack_from("<" + fmt, self.d, self.p)
        self.p += struct.calcsize("<" + fmt)
        return v[0] if len(v) == 1 else v

    def string(self):
        n = self.take("Q")
        s = self.d[self.p:self.p + n]
        self.p += n
        return s

    def value(self, t, limit):
        if t in SCALAR:
            return self.take(SCALAR[t])
        if t == STR:
            return self.string()
        et, n = self.take("I"), self.take("Q")
        items = [self.value(et, limit) for _ in range(n)]
        return (et, items[:limit])


def read_gguf(path, limit):
    with open(path, "rb") as f:
        head = f.read(64 << 20)
    r = Reader(head)
    _, version, n_t, n_kv = r.take("IIQQ")
    kvs = []
    for _ in range(n_kv):
        k = r.string().decode("utf-8", "replace")
        t = r.take("I")
        kvs.append((k, t, r.value(t, limit)))
    infos = []
    for _ in range(n_t):
        name = r.string().decode("utf-8", "replace")
        nd = r.take("I")
        dims = [r.take("q") for _ in range(nd)]
        gt, off = r.take("I"), r.take("Q")
        infos.append((name, dims, gt, off))
    align = next((v for k, t, v in kvs if k == "general.alignment"), 32)
    data_start = (r.p + align - 1) // align * align
    return version, kvs, infos, data_start


def from_models(models, out):
    os.makedirs(out, exist_ok=True)
    files = [("model", os.path.join(models, "SmolLM2-135M-Instruct.Q4_1.gguf"))]
    vdir = os.path.join(models, "vocab")
    if os.path.isdir(vdir):
        files += [(f[len("ggml-vocab-"):-5], os.path.join(vdir, f)) for f in sorted(os.listdir(vdir)) if f.endswith(".gguf")]
    n = 0
    for tag, path in files:
        if not os.path.exists(path):
            print(f"make_seeds: {path} missing, skipped", file=sys.stderr)
            continue
        version, kvs, infos, data_start = read_gguf(path, 512)
        if tag == "model":  # the real header + metadata + tensor infos, cut where the data begins
            with open(path, "rb") as f, open(os.path.join(out, "real-model-header.gguf"), "wb") as o:
                o.write(f.read(data_start))
            n += 1
        kvs = [(k, t, min(v, 512) if k.endswith(".vocab_size") else v) for k, t, v in kvs]
        small = []
        with open(path, "rb") as f:
            for name, dims, gt, off in infos:
                if gt in GGML and tensor_bytes(dims, gt) <= 4096 and len(small) < 4:
                    f.seek(data_start + off)
                    small.append((name, dims, gt, f.read(tensor_bytes(dims, gt))))
        with open(os.path.join(out, f"real-{tag}-trimmed.gguf"), "wb") as o:
            o.write(gguf(kvs, small, version=version))
        n += 1
    print(f"make_seeds: wrote {n} seed(s) from the real files to {out}")


# --- committed synthetic seeds --------------------------------------------------------------
def llama_keys(arch, extra=()):
    return [("general.architecture", STR, arch), ("general.name", STR, "tiny"),
            (f"{arch}.block_count", U32, 1), (f"{arch}.context_length", U32, 64),
            (f"{arch}.embedding_length", U32, 64), (f"{arch}.feed_forward_length", U32, 96),
            (f"{arch}.attention.head_count", U32, 4), (f"{arch}.attention.head_count_kv", U32, 2),
            (f"{arch}.rope.freq_base", F32, 10000.0), (f"{arch}.attention.layer_norm_rms_epsilon", F32, 1e-5),
            (f"{arch}.rope.dimension_count", U32, 16)] + list(extra)


def spm_vocab():
    toks = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + \
           ["\u2581", "\u2581H", "\u2581He", "llo", "\u2581Hello", "\u2581w", "or", "ld", "[INST]", "[/INST]"]
    types = [2, 3, 3] + [6] * 256 + [1] * 8 + [4, 4]
    scores = [0.0] * 259 + [-float(i) for i in range(10)]
    return [("tokenizer.ggml.model", STR, "llama"), ("tokenizer.ggml.tokens", ARR, (STR, toks)),
            ("tokenizer.ggml.token_type", ARR, (I32, types)), ("tokenizer.ggml.scores", ARR, (F32, scores)),
            ("tokenizer.ggml.bos_token_id", U32, 1), ("tokenizer.ggml.eos_token_id", U32, 2),
            ("tokenizer.ggml.add_bos_token", BOOL, True)]


def bpe_vocab(pre):
    alphabet = [chr(c) for c in range(0x21, 0x7F)] + ["\u0120", "\u010A"]
    toks = alphabet + ["\u0120H", "ello", "\u0120Hello", "<|im_start|>", "<|im_end|>", "<|endoftext|>",
                       "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    types = [1] * (len(alphabet) + 3) + [3] * 6
    merges = ["\u0120 H", "e l", "el l", "ell o", "\u0120H ello"]
    return [("tokenizer.ggml.model", STR, "gpt2"), ("tokenizer.ggml.pre", STR, pre),
            ("tokenizer.ggml.tokens", ARR, (STR, toks)), ("tokenizer.ggml.token_type", ARR, (I32, types)),
            ("tokenizer.ggml.merges", ARR, (STR, merges)), ("tokenizer.ggml.bos_token_id", U32, len(toks) - 4),
            ("tokenizer.ggml.eos_token_id", U32, len(toks) - 5)]


CHATML = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
          "{{ '<|im_start|>system\\nYou are a tiny helper.<|im_end|>\\n' }}{% endif %}"
          "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}")
LLAMA3 = "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>{% endfor %}"
LLAMA2 = "{% for m in messages %}{{ bos_token + '[INST] ' + m['content'] + ' [/INST]' }}{% endfor %}"


def committed(out):
    g = os.path.join(out, "gguf")
    os.makedirs(g, exist_ok=True)
    f32 = lambda n: struct.pack(f"<{n}f", *[1.0 + i / 64 for i in range(n)])
    seeds = {
        "empty-v3.gguf": gguf([]),
        "empty-v2.gguf": gguf([], version=2),
        "all-value-types.gguf": gguf([
            ("u8", U8, 1), ("i8", I8, -1), ("u16", U16, 2), ("i16", I16, -2), ("u32", U32, 3), ("i32", I32, -3),
            ("f32", F32, 0.5), ("b", BOOL, True), ("s", STR, "x"), ("u64", U64, 2**63 + 5), ("i64", I64, -4),
            ("f64", F64, 1e300), ("nested", ARR, (ARR, [(U8, [1, 2]), (STR, ["a"])])),
            ("general.alignment", U32, 64)], [("t", [32], 8, pattern(34))], alignment=64),
        "tiny-llama-spm.gguf": gguf(
            llama_keys("llama", [("tokenizer.chat_template", STR, LLAMA2)]) + spm_vocab(),
            [("rope_freqs.weight", [8], 0, f32(8)), ("blk.0.attn_norm.weight", [64], 1, pattern(128)),
             ("output.weight", [64, 2], 2, pattern(72)), ("blk.0.ffn_down.weight", [256], 12, pattern(144))]),
        "tiny-qwen2-chatml.gguf": gguf(
            llama_keys("qwen2", [("tokenizer.chat_template", STR, CHATML)]) + bpe_vocab("qwen2"),
            [("token_embd.weight", [64, 2], 8, pattern(136)), ("blk.0.attn_q.bias", [64], 0, f32(64)),
             ("blk.0.ffn_up.weight", [32, 2], 3, pattern(40)), ("x.q6k", [256], 14, pattern(210))]),
        "tiny-llama3-scaled.gguf": gguf(
            llama_keys("llama", [("llama.rope.scaling.type", STR, "llama3"), ("llama.rope.scaling.factor", F32, 8.0),
                                 ("llama.rope.scaling.original_context_length", U32, 32),
                                 ("llama.attention.key_length", U32, 16), ("tokenizer.chat_template", STR, LLAMA3)])
            + bpe_vocab("llama-bpe"),
            [("blk.0.attn_k.weight", [32, 1], 6, pattern(22)), ("blk.0.attn_v.weight", [32, 1], 7, pattern(24)),
             ("x.q5k", [256], 13, pattern(176)), ("x.bf16", [16], 30, pattern(32))]),
    }
    for name, blob in seeds.items():
        with open(os.path.join(g, name), "wb") as o:
            o.write(blob)

    write = lambda target, name, blob: (os.makedirs(os.path.join(out, target), exist_ok=True),
                                        open(os.path.join(out, target, name), "wb").write(blob))
    # tokenizer: byte 0 = vocabulary (low nibble) + mode (high nibble), see fuzz_tokenizer.cpp
    for v in range(5):
        write("tokenizer", f"text-{v}", bytes([v | 0x30]) + "Hello world! <|im_start|>user\n héllo 123 \U0001F600\t's".encode())
        write("tokenizer", f"ids-{v}", bytes([v | 0x80]) + struct.pack("<8i", 0, 1, 2, 100, 9000, -1, 2**31 - 1, 30000))
    write("tokenizer", "ids-split-utf8", bytes([0x90]) + struct.pack("<4i", 0xE2, 0x82, 0xAC, 0x20))
    # chat_template: byte 0 bit 0 = add_generation_prompt; '\x01' separates template, role, content, ...
    msgs = b"\x01system\x01Be brief.\x01user\x01 Hi there \x01assistant\x01Hello!\x01user\x01and?"
    for name, src in [("chatml", CHATML), ("llama3", LLAMA3), ("llama2", LLAMA2), ("unknown", "{{ x }}"), ("none", "")]:
        write("chat_template", name, b"\x01" + src.encode() + msgs)
    # openai_request: request bodies
    bodies = {
        "chat": '{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":"Hi"}],'
                '"max_tokens":16,"temperature":0.7,"top_p":0.9,"top_k":40,"min_p":0.05,"seed":1,"stop":["\\n"],'
                '"stream":true,"stream_options":{"include_usage":true}}',
        "chat-parts": '{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"}],"name":"n"}],'
                      '"max_completion_tokens":4,"repetition_penalty":1.1,"n":1,"user":"u"}',
        "completion": '{"model":"m","prompt":"Once upon","max_tokens":8,"stop":"x","seed":-5}',
        "bad-types": '{"model":1,"messages":{},"max_tokens":"8","temperature":null}',
        "unicode": '{"model":"\\ud83d\\ude00","prompt":"\\u00e9\\u0000"}',
        "sdk-defaults": '{"model":"m","messages":[{"role":"developer","content":"d"}],"logprobs":false,'
                        '"top_logprobs":0,"presence_penalty":0,"frequency_penalty":0.5,"response_format":{"type":"text"},'
                        '"echo":false,"logit_bias":{},"parallel_tool_calls":true,"service_tier":"auto",'
                        '"metadata":{"k":"v"},"store":false}',
    }
    for name, body in bodies.items():
        write("openai_request", name, body.encode())
    print(f"make_seeds: wrote the committed seeds to {out}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--committed":
        committed(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "--from-models":
        from_models(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
