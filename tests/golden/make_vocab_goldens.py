#!/usr/bin/env python3
"""Tokenizer goldens for more of llama.cpp's test vocabularies (tokens_phi3.json, ...), made by
llama.cpp itself through tools/lcpp_vocab_dump.cpp, a 70-line program on libllama that makes the
same calls llama-cpp-python makes for generate_golden.py (llama_tokenize, llama_token_to_piece,
llama_detokenize). The cases are those of tokens_llama_spm.json (the same texts and flags), so
every vocabulary meets the same strings. --check first regenerates tokens_llama_spm.json's ids,
pieces and round trips and fails unless they equal the committed ones (llama-cpp-python 0.3.36's),
which shows the tool and that file agree.

    g++ -std=c++17 -I$LCPP/include -I$LCPP/ggml/include tests/golden/tools/lcpp_vocab_dump.cpp \\
        -L$BUILD/bin -lllama -lggml -lggml-base -Wl,-rpath,$BUILD/bin -o /tmp/lcpp_vocab_dump
    python3 tests/golden/make_vocab_goldens.py --tool /tmp/lcpp_vocab_dump \\
        --vocab-dir $LCPP/models --check phi-3

llama.cpp: the source in llama-cpp-python 0.3.36's sdist (vendor/llama.cpp), built CPU-only.
"""
import argparse
import json
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent

# Beyond tokens_llama_spm.json's texts: combining marks (\p{M}), which Qwen3.5's pre-tokenizer
# counts with the letters and Qwen2's does not, and Phi-3's own turn markers.
EXTRA = ["नमस्ते दुनिया", "cafe\u0301 au lait", "a\u0308\u0308b! \u0301x", "สวัสดีครับ", "مرحبا بالعالم",
         "<|user|>\nHi<|end|>\n<|assistant|>\n", " \u0300\u0300 !!\u0301"]


def dump(tool, vocab, cases):
    lines = "".join("%d %d %s\n" % (int(c["add_bos"]), int(c["parse_special"]), c["text"].encode().hex() or "-")
                    for c in cases)
    out = subprocess.run([tool, str(vocab)], input=lines, capture_output=True, text=True, check=True).stdout
    rows = out.splitlines()
    if len(rows) != len(cases):
        sys.exit("lcpp_vocab_dump answered %d cases of %d" % (len(rows), len(cases)))
    result = []
    for c, row in zip(cases, rows):
        ids, pieces, rt = row.split("|")
        result.append({"text": c["text"], "add_bos": c["add_bos"], "parse_special": c["parse_special"],
                       "ids": [int(x) for x in ids.split()],
                       "pieces_roundtrip": bytes.fromhex(rt).decode("utf-8", errors="replace"),
                       "pieces_hex": pieces.split()})
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--vocab-dir", required=True, help="llama.cpp's models/ folder (ggml-vocab-*.gguf)")
    ap.add_argument("--check", action="store_true", help="first reproduce tokens_llama_spm.json")
    ap.add_argument("vocabs", nargs="+", help="names: phi-3 -> ggml-vocab-phi-3.gguf -> tokens_phi3.json")
    a = ap.parse_args()
    base = json.loads((HERE / "tokens_llama_spm.json").read_text(encoding="utf-8"))
    cases = [{"text": c["text"], "add_bos": c["add_bos"], "parse_special": c["parse_special"]} for c in base["cases"]]
    vdir = pathlib.Path(a.vocab_dir)
    if a.check:
        again = dump(a.tool, vdir / "ggml-vocab-llama-spm.gguf", cases)
        for want, got in zip(base["cases"], again):
            for k in ("ids", "pieces_hex", "pieces_roundtrip"):
                if want[k] != got[k]:
                    sys.exit("check: %s differs for %r: %r vs %r" % (k, want["text"], got[k], want[k]))
        print("check: lcpp_vocab_dump reproduces tokens_llama_spm.json (%d cases)" % len(cases))
    cases += [{"text": t, "add_bos": False, "parse_special": special} for t in EXTRA for special in (True, False)]
    for name in a.vocabs:
        path = vdir / ("ggml-vocab-%s.gguf" % name)
        out = {"reference": "llama.cpp (llama-cpp-python 0.3.36's vendor/llama.cpp) via tests/golden/tools/lcpp_vocab_dump.cpp",
               "model": path.name,
               "notes": base["notes"].replace("Llama.tokenize", "llama_tokenize"),
               "cases": dump(a.tool, path, cases)}
        dst = HERE / ("tokens_%s.json" % name.replace("-", ""))
        dst.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print("wrote %s: %d cases" % (dst.name, len(cases)))


if __name__ == "__main__":
    main()
