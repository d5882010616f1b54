// One exception type for every user-facing failure. The message is a single line that says
// where (file:line:col, node, plugin file) and what was expected; the runner prints it and
// exits with status 2.
#pragma once

#include <stdexcept>
#include <string>

namespace weft {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Where in a graph file something came from, so errors can point at it.
struct SourceLocation {
    std::string file;
    int line = 0;    // 1-based; 0 = unknown
    int column = 0;  // 1-based; 0 = unknown

    bool known() const { return !file.empty(); }
    std::string str() const;  // "file:line:col" (or just "file")
};

}  // namespace weft
