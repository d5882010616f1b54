#include <algorithm>
#include <charconv>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "posix_file.h"
#include "weft/error.h"
#include "weft/output_file.h"
#include "weft/report/files.h"

namespace weft::report {

namespace {

using Row = MetricsCsv::Row;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> fields;
    for (std::size_t start = 0;;) {
        const std::size_t comma = line.find(',', start);
        fields.push_back(trim(line.substr(start, comma - start)));
        if (comma == std::string_view::npos) return fields;
        start = comma + 1;
    }
}

std::string joined(const std::vector<std::string>& names) { return fmt::format("{}", fmt::join(names, ",")); }

struct ParsedLine {
    int number;             // 1-based line in the file
    std::string_view text;  // as written, without its line ending
    Row row;
};

struct ParsedCsv {
    std::vector<std::string> header;
    std::vector<ParsedLine> lines;
};

std::vector<std::string> parse_header(const std::filesystem::path& path, std::string_view line) {
    std::vector<std::string> header;
    for (std::string_view name : split_fields(line)) {
        if (name.empty()) throw Error(fmt::format("{}:1: empty column name in header '{}'", path.string(), line));
        if (std::find(header.begin(), header.end(), name) != header.end())
            throw Error(fmt::format("{}:1: column '{}' appears twice in the header", path.string(), name));
        header.emplace_back(name);
    }
    return header;
}

Row parse_row(const std::filesystem::path& path, int number, std::string_view line,
              const std::vector<std::string>& header) {
    const auto fields = split_fields(line);
    if (fields.size() != header.size())
        throw Error(fmt::format("{}:{}: {} fields, expected {} ({})", path.string(), number, fields.size(),
                                header.size(), joined(header)));
    Row row;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (fields[i].empty()) continue;
        double value = 0;
        const auto [end, ec] = std::from_chars(fields[i].data(), fields[i].data() + fields[i].size(), value);
        if (ec != std::errc() || end != fields[i].data() + fields[i].size())
            throw Error(fmt::format("{}:{}: column '{}': '{}' is not a number", path.string(), number, header[i],
                                    fields[i]));
        row[header[i]] = value;
    }
    return row;
}

// `text` must outlive the result, whose lines point into it.
ParsedCsv parse_metrics(const std::filesystem::path& path, std::string_view text) {
    ParsedCsv csv;
    int number = 0;
    for (std::size_t start = 0; start < text.size();) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        if (line.ends_with('\r')) line.remove_suffix(1);
        start = end + 1;
        ++number;
        if (number == 1) {
            csv.header = parse_header(path, line);
            continue;
        }
        if (trim(line).empty()) continue;
        csv.lines.push_back({number, line, parse_row(path, number, line, csv.header)});
    }
    if (number == 0 || csv.header.empty())
        throw Error(fmt::format("{}: empty, expected a header line naming the columns", path.string()));
    return csv;
}

void check_columns(const std::vector<std::string>& columns) {
    if (columns.empty()) throw Error("metrics file: no columns given");
    std::set<std::string> seen;
    for (const auto& c : columns) {
        if (c.empty() || c.find_first_of(",\"\r\n") != std::string::npos || c != trim(c))
            throw Error(fmt::format("metrics file: column name '{}' is empty or holds a comma, quote, newline or "
                                    "surrounding space",
                                    c));
        if (!seen.insert(c).second) throw Error(fmt::format("metrics file: column '{}' given twice", c));
    }
}

}  // namespace

MetricsCsv::MetricsCsv(std::filesystem::path path, std::vector<std::string> columns)
    : file_(std::move(path)), columns_(std::move(columns)) {
    check_columns(columns_);
    const std::string& text = file_.existing();
    if (text.empty()) {
        file_.append(joined(columns_) + "\n", true);
        return;
    }
    const auto header = parse_header(file_.path(), text.substr(0, text.find_first_of("\r\n")));
    if (header != columns_)
        throw Error(fmt::format("{}: has columns {} but this run writes {}; use another file or remove this one",
                                file_.path().string(), joined(header), joined(columns_)));
}

void MetricsCsv::append(const Row& row) {
    for (const auto& [key, value] : row)
        if (std::find(columns_.begin(), columns_.end(), key) == columns_.end())
            throw Error(fmt::format("{}: metric '{}' is not one of the columns ({})", file_.path().string(), key,
                                    joined(columns_)));
    std::string line;
    for (std::size_t i = 0; i < columns_.size(); ++i) {
        if (i) line += ',';
        // fmt's default for double is the shortest text that reads back as the same value.
        if (const auto it = row.find(columns_[i]); it != row.end()) line += fmt::format("{}", it->second);
    }
    file_.append(line + "\n", true);
}

std::vector<MetricsCsv::Row> MetricsCsv::read(const std::filesystem::path& path) {
    const std::string text = read_whole_file(path);
    std::vector<Row> rows;
    for (auto& line : parse_metrics(path, text).lines) rows.push_back(std::move(line.row));
    return rows;
}

void MetricsCsv::truncate_after_epoch(const std::filesystem::path& path, std::int64_t epoch) {
    if (!std::filesystem::exists(path)) return;
    const std::string text = read_whole_file(path);
    const ParsedCsv csv = parse_metrics(path, text);
    if (std::find(csv.header.begin(), csv.header.end(), "epoch") == csv.header.end())
        throw Error(fmt::format("{}: no 'epoch' column to cut rows by (columns: {})", path.string(),
                                joined(csv.header)));
    std::string kept = joined(csv.header) + "\n";
    for (const ParsedLine& line : csv.lines) {
        const auto it = line.row.find("epoch");
        if (it == line.row.end())
            throw Error(fmt::format("{}:{}: row has no epoch, so it cannot be kept or dropped", path.string(),
                                    line.number));
        if (it->second <= static_cast<double>(epoch)) kept += fmt::format("{}\n", line.text);
    }
    write_file_atomically(path, kept);
}

}  // namespace weft::report
