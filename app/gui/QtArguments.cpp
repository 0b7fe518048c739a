// QtArguments.cpp: the list of QGuiApplication's and QApplication's documented command-line options
// (Qt 6) and the split of argv into theirs and the window's.
#include "QtArguments.h"

#include <algorithm>

namespace QtArguments {

const std::vector<Known>& known() {
    static const std::vector<Known> list = {
        {"platform", true}, {"platformpluginpath", true}, {"platformtheme", true}, {"plugin", true},
        {"qwindowgeometry", true}, {"qwindowicon", true}, {"qwindowtitle", true},
        {"session", true}, {"display", true}, {"geometry", true}, {"style", true}, {"stylesheet", true},
        {"reverse", false}, {"widgetcount", false}, {"nograb", false}, {"dograb", false}, {"sync", false},
    };
    return list;
}

std::vector<std::string> withoutQt(int argc, const char* const* argv) {
    std::vector<std::string> ours;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        // "-name", "--name" or "-name=value" of a known Qt option; anything else is ours.
        std::string name = arg.rfind("--", 0) == 0 ? arg.substr(2) : arg.rfind('-', 0) == 0 ? arg.substr(1) : "";
        const std::size_t eq = name.find('=');
        const bool inlineValue = eq != std::string::npos;
        if (inlineValue) name.resize(eq);
        const auto it = std::find_if(known().begin(), known().end(), [&](const Known& k) { return name == k.name; });
        if (name.empty() || it == known().end() || (inlineValue && !it->takesValue)) {
            ours.push_back(arg);
            continue;
        }
        // A value option given last, without its value, is left to our parser, which refuses it.
        if (it->takesValue && !inlineValue) {
            if (i + 1 >= argc) {
                ours.push_back(arg);
                continue;
            }
            ++i;
        }
    }
    return ours;
}

std::string helpLine() {
    // Wrapped at about 100 columns, as CLI11 does not wrap a footer.
    std::string text = "Qt's own options pass through to Qt:", line = text;
    text.clear();
    for (const Known& k : known()) {
        const std::string item = " -" + std::string(k.name) + (k.takesValue ? " X" : "") + ",";
        if (line.size() + item.size() > 100) {
            text += line + "\n ";
            line.clear();
        }
        line += item;
    }
    line.pop_back();   // the last comma
    return text + line;
}

} // namespace QtArguments
