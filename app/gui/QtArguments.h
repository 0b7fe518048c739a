// QtArguments: tells Qt's own command-line arguments (-platform offscreen, -style Fusion, ...) from
// the window's. The window parses its options with app/options before QApplication exists (so
// --help and usage errors need no display); Qt's arguments are left out of that parse and stay in
// argv, where QApplication takes them. Plain C++ so the unit test needs no Qt.
#pragma once
#include <string>
#include <vector>

namespace QtArguments {

/// Qt's options: {name without dashes, whether it takes a value}. Qt accepts "-name" and "--name",
/// and "-name=value" for the ones with a value.
struct Known {
    const char* name;
    bool takesValue;
};
const std::vector<Known>& known();

/// argv[1..] without Qt's arguments (and their values), for the window's own parser.
std::vector<std::string> withoutQt(int argc, const char* const* argv);

/// One line for --help naming Qt's options that pass through.
std::string helpLine();

} // namespace QtArguments
