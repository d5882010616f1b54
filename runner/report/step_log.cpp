#include <algorithm>
#include <cmath>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "posix_file.h"
#include "weft/error.h"
#include "weft/output_file.h"
#include "weft/report/files.h"

namespace weft::report {

namespace {

using Row = StepLog::Row;

struct ParsedLine {
    std::string_view text;
    Row row;
};

// `text` must outlive the result, whose lines point into it.
std::vector<ParsedLine> parse_lines(const std::filesystem::path& path, std::string_view text) {
    std::vector<ParsedLine> lines;
    int number = 0;
    for (std::size_t start = 0; start < text.size();) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view line = text.substr(start, end - start);
        start = end + 1;
        ++number;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_object()) throw Error(fmt::format("{}:{}: not a JSON object", path.string(), number));
        Row row;
        for (const auto& [key, value] : j.items()) {
            if (value.is_null()) continue;
            if (!value.is_number())
                throw Error(fmt::format("{}:{}: '{}' is not a number", path.string(), number, key));
            row[key] = value.get<double>();
        }
        lines.push_back({line, std::move(row)});
    }
    return lines;
}

}  // namespace

StepLog::StepLog(std::filesystem::path path, std::vector<std::string> keys)
    : file_(std::move(path)), keys_(std::move(keys)) {
    parse_lines(file_.path(), file_.existing());  // a log that does not parse is refused now, not at the end
}

void StepLog::append(const Row& row) {
    for (const auto& [key, value] : row)
        if (std::find(keys_.begin(), keys_.end(), key) == keys_.end())
            throw Error(fmt::format("{}: '{}' is not one of the keys ({})", file_.path().string(), key,
                                    fmt::join(keys_, ", ")));
    std::string line;
    for (const std::string& key : keys_) {
        const auto it = row.find(key);
        if (it == row.end()) continue;
        // fmt's default for double is the shortest text that reads back as the same value.
        const std::string value = std::isfinite(it->second) ? fmt::format("{}", it->second) : "null";
        line += fmt::format("{}{}: {}", line.empty() ? "{" : ", ", nlohmann::json(key).dump(), value);
    }
    file_.append(line + "}\n", false);
}

std::vector<Row> StepLog::read(const std::filesystem::path& path) {
    const std::string text = read_whole_file(path);
    std::vector<Row> rows;
    for (auto& line : parse_lines(path, text)) rows.push_back(std::move(line.row));
    return rows;
}

namespace {

// Keeps the records whose `key` is at most `limit`, replacing the file atomically.
void keep_records_up_to(const std::filesystem::path& path, const std::string& key, double limit) {
    if (!std::filesystem::exists(path)) return;
    const std::string text = read_whole_file(path);
    const std::string_view whole_lines(text.data(), text.ends_with('\n') ? text.size() : text.rfind('\n') + 1);
    std::string kept;
    for (const ParsedLine& line : parse_lines(path, whole_lines)) {
        const auto it = line.row.find(key);
        if (it != line.row.end() && it->second <= limit) kept += fmt::format("{}\n", line.text);
    }
    write_file_atomically(path, kept);
}

}  // namespace

void StepLog::truncate_after_epoch(const std::filesystem::path& path, std::int64_t epoch) {
    keep_records_up_to(path, "epoch", static_cast<double>(epoch));
}

void StepLog::truncate_after_step(const std::filesystem::path& path, std::int64_t step) {
    keep_records_up_to(path, "step", static_cast<double>(step));
}

}  // namespace weft::report
