// What the harnesses share: a private scratch directory (the readers under test take paths, not
// bytes), the plugins of this build, and the rule that weft::Error is the only acceptable way for
// bad input to fail. Anything else escaping a harness, a sanitizer report, a leak or a timeout is
// a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace weft {
class Registry;
}

namespace weft::fuzz {

// A directory of this process's own, created on first use and removed at exit, so parallel
// fuzzing jobs and ctest runs never read each other's files.
const std::filesystem::path& scratch_directory();

// Replaces `path` with exactly these bytes (throws std::runtime_error when it cannot: that is
// the machine's fault, not the input's, and must not pass silently).
void write_bytes(const std::filesystem::path& path, const std::uint8_t* data, std::size_t size);

// Every plugin built with the harness (schemas and kernels), loaded once.
const Registry& plugin_registry();

// The graph files of the source tree, put on WEFT_GRAPH_PATH so that `include: blocks/...`
// in a fuzzed file resolves as it does for the zoo.
std::filesystem::path graph_directory();

}  // namespace weft::fuzz
