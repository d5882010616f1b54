// The POSIX steps shared by write_file_atomic, MetricsCsv and StepLog, which all promise that what
// they reported written survives a crash.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace weft::report {

// Writes all of `content`, retrying after signals and short writes; false with errno set.
bool write_all(int fd, std::string_view content);
// fsyncs the directory holding `path`, so a file created or renamed there stays there.
void sync_parent_directory(const std::filesystem::path& path);
// The whole file; weft::Error naming it when it cannot be read.
std::string read_whole_file(const std::filesystem::path& path);

}  // namespace weft::report
