// ModelLocator: the start-up model search order (see ModelLocator.h). Exercise: test_model_locator.
#include "ModelLocator.h"

#include <QDir>

namespace ModelLocator {

Choice choose(const Candidates& c, const std::function<bool(const QString&)>& exists) {
    Choice out;
    if (!c.argument.isEmpty()) return {c.argument, QStringLiteral("argument"), {}};
    if (!c.environment.isEmpty()) return {c.environment, QStringLiteral("environment"), {}};
    if (!c.saved.isEmpty() && (c.saved.startsWith(QLatin1String("synthetic:")) || exists(c.saved)))
        return {c.saved, QStringLiteral("saved"), {}};
    const std::pair<QString, QString> files[] = {{c.sourceDefault, QStringLiteral("source tree")},
                                                 {c.userDefault, QStringLiteral("user data")}};
    for (const auto& [path, source] : files) {
        if (path.isEmpty() || out.searched.contains(path)) continue;
        out.searched << path;
        if (exists(path)) {
            out.path = path;
            out.source = source;
            return out;
        }
    }
    return out;
}

QString userModelDir() {
    QString base = qEnvironmentVariable("XDG_DATA_HOME");
    if (base.isEmpty() || !QDir::isAbsolutePath(base))   // the XDG spec: relative values are ignored
        base = QDir::homePath() + QStringLiteral("/.local/share");
    return QDir::cleanPath(base + QStringLiteral("/ridgeline/models"));
}

QString userDefaultModel() { return userModelDir() + QLatin1Char('/') + QLatin1String(kDefaultModelFile); }

QString fetchScript(const QString& applicationDir, const QString& sourceScript,
                    const std::function<bool(const QString&)>& exists) {
    const QString installed = QDir::cleanPath(applicationDir + QStringLiteral("/../lib/ridgeline/fetch-model"));
    if (exists(installed)) return installed;
    if (!sourceScript.isEmpty() && exists(sourceScript)) return sourceScript;
    return {};
}

} // namespace ModelLocator
