// lcpp_vocab_dump: llama.cpp's tokenizer on a vocabulary GGUF, for make_vocab_goldens.py. Not part
// of Ridgeline's build: compiled against llama.cpp's own headers and libllama (the reference).
// stdin: one case a line, "ADD_BOS PARSE_SPECIAL HEXTEXT" (HEXTEXT "-" for the empty string).
// stdout: per case "IDS|PIECES_HEX|ROUNDTRIP_HEX", space-separated inside each field, where the
// calls are the ones llama-cpp-python's Llama.tokenize / llama_token_to_piece(lstrip 0,
// special) / llama_detokenize(remove_special false, unparse_special true) make.
#include "llama.h"

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

static std::string hex(const std::string& s) {
    static const char* d = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) out += d[c >> 4], out += d[c & 15];
    return out;
}

static std::string unhex(const std::string& h) {
    std::string out;
    if (h == "-") return out;
    for (size_t i = 0; i + 1 < h.size(); i += 2) out += char(std::stoi(h.substr(i, 2), nullptr, 16));
    return out;
}

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    llama_model* model = llama_model_load_from_file(argv[1], mp);
    if (!model) return 3;
    const llama_vocab* vocab = llama_model_get_vocab(model);
    int add_bos = 0, special = 0;
    std::string h;
    while (std::cin >> add_bos >> special >> h) {
        const std::string text = unhex(h);
        std::vector<llama_token> ids(text.size() + 16);
        int n = llama_tokenize(vocab, text.data(), int(text.size()), ids.data(), int(ids.size()), add_bos, special);
        if (n < 0) {
            ids.resize(size_t(-n));
            n = llama_tokenize(vocab, text.data(), int(text.size()), ids.data(), int(ids.size()), add_bos, special);
        }
        ids.resize(size_t(n));
        std::string line, pieces;
        for (llama_token t : ids) {
            line += std::to_string(t) + " ";
            char buf[512];
            const int m = llama_token_to_piece(vocab, t, buf, sizeof buf, 0, true);
            pieces += hex(std::string(buf, size_t(m > 0 ? m : 0))) + " ";
        }
        std::string text_out(text.size() * 4 + 64, '\0');
        int m = llama_detokenize(vocab, ids.data(), int(ids.size()), text_out.data(), int(text_out.size()), false, true);
        if (m < 0) {
            text_out.resize(size_t(-m));
            m = llama_detokenize(vocab, ids.data(), int(ids.size()), text_out.data(), int(text_out.size()), false, true);
        }
        text_out.resize(size_t(m));
        std::printf("%s|%s|%s\n", line.c_str(), pieces.c_str(), hex(text_out).c_str());
    }
    llama_model_free(model);
    return 0;
}
