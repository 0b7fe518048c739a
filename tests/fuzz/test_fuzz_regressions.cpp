// test_fuzz_regressions: replays, in the ordinary (and the ASan) build, every input the fuzzers
// ever crashed on (tests/fuzz/regressions/<target>/) and every committed seed
// (tests/fuzz/corpus/<target>/) through the same entry functions the libFuzzer binaries call
// (tests/fuzz/fuzz_targets.h). A fixed bug that comes back crashes or fails this test.
// A new crash file: copy it into regressions/<target>/ (name it after the bug), fix, rerun.
#include "rl_test.h"

#include "fuzz_targets.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

using one_fn = int (*)(const uint8_t*, size_t);

// Runs every file of regressions/<target>/ and corpus/<target>/; returns how many ran.
int replay(const std::string& target, one_fn one) {
    int n = 0;
    for (const char* kind : {"regressions", "corpus"}) {
        const fs::path dir = fs::path(RL_TEST_DATA) / "fuzz" / kind / target;
        if (!fs::is_directory(dir)) continue;
        std::vector<fs::path> files;
        for (const auto& e : fs::directory_iterator(dir))
            if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path());
        std::sort(files.begin(), files.end());
        for (const fs::path& p : files) {
            std::ifstream in(p, std::ios::binary);
            const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            std::printf("replay %s/%s/%s (%zu bytes)\n", kind, target.c_str(), p.filename().c_str(), bytes.size());
            std::fflush(stdout);  // a crash then names its input
            one(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
            ++n;
        }
    }
    return n;
}

} // namespace

class TestFuzzRegressions : public QObject {
    Q_OBJECT
private slots:
    void gguf() {
        rl_fuzz::gguf_init();
        QVERIFY(replay("gguf", rl_fuzz::gguf_one) > 0);
    }
    void tokenizer() {
        rl_fuzz::tokenizer_init();
        if (rl_fuzz::tokenizer_loaded() == 0) QSKIP("no vocabularies under models/ (scripts/fetch-model)");
        QVERIFY(replay("tokenizer", rl_fuzz::tokenizer_one) > 0);
    }
    void chat_template() {
        rl_fuzz::chat_template_init();
        QVERIFY(replay("chat_template", rl_fuzz::chat_template_one) > 0);
    }
    void openai_request() {
#if defined(RL_FUZZ_HAVE_OPENAI)
        rl_fuzz::openai_request_init();
        QVERIFY(replay("openai_request", rl_fuzz::openai_request_one) > 0);
#else
        QSKIP("ridgeline_serve is not built here (no cpp-httplib)");
#endif
    }
};

RL_TEST_MAIN(TestFuzzRegressions, gguf, tokenizer, chat_template, openai_request)
#include "test_fuzz_regressions.moc"
