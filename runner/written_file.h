// What a command wrote, said the same way by every command that writes a file: a line
// "wrote PATH (FORMAT, N bytes)" and, under --json, {"path", "format", "bytes"}.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

namespace weft::runner {

struct WrittenFile {
    std::string path, format;
    std::size_t bytes = 0;

    std::string line() const;
    nlohmann::json json() const;
};

}  // namespace weft::runner
