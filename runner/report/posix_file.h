// The POSIX steps shared by MetricsCsv and StepLog (through LineAppender), which promise that what
// they reported written survives a crash; whole files are written by weft/output_file.h.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "weft/output_file.h"

namespace weft::report {

using weft::sync_parent_directory;
inline bool write_all(int fd, std::string_view content) { return weft::write_all(fd, content.data(), content.size()); }
// The whole file (a regular one, at most 256 MiB); weft::Error naming it when it cannot be read
// or is something else.
std::string read_whole_file(const std::filesystem::path& path);

}  // namespace weft::report
