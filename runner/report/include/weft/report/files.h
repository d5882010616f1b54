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

// Whole files (pictures, run.json) are written with weft::write_file_atomically (weft/output_file.h).

// A file of lines opened for appending (created when missing). A crash in the middle of an append
// can leave a last line without its newline; opening cuts it off, since it is no record. Each
// append is one write(), so a crash leaves at most one such line. Errors name the file.
class LineAppender {
public:
    explicit LineAppender(std::filesystem::path path);
    ~LineAppender();
    LineAppender(LineAppender&& other) noexcept;
    LineAppender& operator=(LineAppender&& other) noexcept;
    LineAppender(const LineAppender&) = delete;
    LineAppender& operator=(const LineAppender&) = delete;

    const std::filesystem::path& path() const { return path_; }
    bool created() const { return created_; }                // the file did not exist before
    const std::string& existing() const { return existing_; }  // its whole lines when opened

    // `lines` must end in a newline; fsyncs afterwards when `sync`.
    void append(std::string_view lines, bool sync);
    void sync();  // fsync: every line appended so far survives a power cut

private:
    std::filesystem::path path_;
    int fd_ = -1;
    bool created_ = false;
    std::string existing_;
};

// One row per epoch (or per evaluation), one column per metric. Each appended row is flushed
// and fsynced, so after a crash the file holds every row the run reported.
class MetricsCsv {
public:
    using Row = std::map<std::string, double>;

    // Creates the file with a header line, or appends to an existing one whose header names
    // the same columns (anything else is a weft::Error: rows would land under the wrong names).
    // A last line cut short by a crash is dropped first.
    MetricsCsv(std::filesystem::path path, std::vector<std::string> columns);

    // Values in column order, each with the shortest text that reads back to the same double;
    // a column missing from `row` is left empty. A key that is no column is a weft::Error.
    void append(const Row& row);

    const std::filesystem::path& path() const { return file_.path(); }
    const std::vector<std::string>& columns() const { return columns_; }

    // Every row; an empty field is a key absent from that row. Throws weft::Error naming the
    // file (and line) when it cannot be read, has no header or a line does not parse.
    static std::vector<Row> read(const std::filesystem::path& path);

    // Keeps the header and the rows with epoch <= `epoch`, replacing the file atomically; for a
    // run resuming from an earlier checkpoint. Call it before opening a MetricsCsv on the same
    // file (an open one would keep appending to the replaced file). No file: nothing to do.
    static void truncate_after_epoch(const std::filesystem::path& path, std::int64_t epoch);

private:
    LineAppender file_;
    std::vector<std::string> columns_;
};

// One JSON object per line (JSON Lines), for records too many for a CSV read by eye: every step
// of a training run (steps.jsonl). Keys are written in the order given; a record's non-finite
// value is written as null and read back as an absent key. Lines are appended without an fsync
// each; sync() makes them durable (a trainer calls it before each checkpoint, so no checkpoint is
// ever ahead of its steps on disk).
class StepLog {
public:
    using Row = MetricsCsv::Row;

    // Opens or creates the file; a last line cut short by a crash is dropped.
    StepLog(std::filesystem::path path, std::vector<std::string> keys);

    // A key that is not one of the log's is a weft::Error; a missing one is left out.
    void append(const Row& row);
    void sync() { file_.sync(); }
    const std::filesystem::path& path() const { return file_.path(); }

    // Every record; weft::Error naming the file and line when one is not a JSON object of numbers.
    static std::vector<Row> read(const std::filesystem::path& path);

    // Keeps the records with epoch <= `epoch`, replacing the file atomically, like
    // MetricsCsv::truncate_after_epoch and for the same reason. No file: nothing to do.
    static void truncate_after_epoch(const std::filesystem::path& path, std::int64_t epoch);
    // Keeps the records with step <= `step` (counted over the whole run): for a run resuming from
    // a checkpoint taken inside an epoch.
    static void truncate_after_step(const std::filesystem::path& path, std::int64_t step);

private:
    LineAppender file_;
    std::vector<std::string> keys_;
};

}  // namespace weft::report
