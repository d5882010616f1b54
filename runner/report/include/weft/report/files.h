// Files the runner rewrites while it trains (pictures, metrics): written so that a crash or a
// full disk at any moment leaves either the old file or the new one, never half of one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace weft::report {

// Writes `path.tmp-<pid>` beside `path`, fsyncs it, renames it over `path` and fsyncs the
// directory so the rename itself survives a power cut. On failure the temporary file is removed
// and weft::Error names the path and the system's reason.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

// One row per epoch (or per evaluation), one column per metric. Each appended row is flushed
// and fsynced, so after a crash the file holds every row the run reported.
class MetricsCsv {
public:
    using Row = std::map<std::string, double>;

    // Creates the file with a header line, or appends to an existing one whose header names
    // the same columns (anything else is a weft::Error: rows would land under the wrong names).
    // A last line cut short by a crash is dropped first.
    MetricsCsv(std::filesystem::path path, std::vector<std::string> columns);
    ~MetricsCsv();
    MetricsCsv(MetricsCsv&& other) noexcept;
    MetricsCsv& operator=(MetricsCsv&& other) noexcept;
    MetricsCsv(const MetricsCsv&) = delete;
    MetricsCsv& operator=(const MetricsCsv&) = delete;

    // Values in column order, each with the shortest text that reads back to the same double;
    // a column missing from `row` is left empty. A key that is no column is a weft::Error.
    void append(const Row& row);

    const std::filesystem::path& path() const { return path_; }
    const std::vector<std::string>& columns() const { return columns_; }

    // Every row; an empty field is a key absent from that row. Throws weft::Error naming the
    // file (and line) when it cannot be read, has no header or a line does not parse.
    static std::vector<Row> read(const std::filesystem::path& path);

    // Keeps the header and the rows with epoch <= `epoch`, replacing the file atomically; for a
    // run resuming from an earlier checkpoint. Call it before opening a MetricsCsv on the same
    // file (an open one would keep appending to the replaced file). No file: nothing to do.
    static void truncate_after_epoch(const std::filesystem::path& path, std::int64_t epoch);

private:
    std::filesystem::path path_;
    std::vector<std::string> columns_;
    int fd_ = -1;
};

}  // namespace weft::report
