// The YAML layer of the graph-file loader (graph_file_yaml.h): reading and parsing files, strict
// mappings, and scalars turned into values.
#include "graph_file_yaml.h"

#include <cctype>
#include <charconv>

#include "weft/input_file.h"

namespace weft::graph_file {
namespace fs = std::filesystem;

namespace {

// Graph files are text a person writes: 16 MiB is far beyond any of them, and bounds a hostile one.
constexpr std::uint64_t kMaxGraphFileBytes = 16 << 20;

bool is_identifier(std::string_view name) {
    static constexpr std::string_view reserved[] = {"and", "or", "not", "if", "else", "true", "false", "True", "False"};
    if (name.empty() || std::find(std::begin(reserved), std::end(reserved), name) != std::end(reserved)) return false;
    auto word_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    return !std::isdigit(static_cast<unsigned char>(name[0])) && std::all_of(name.begin(), name.end(), word_char);
}

bool looks_like_number(std::string_view text) {
    return !text.empty() && text.find_first_not_of("0123456789+-.eE") == std::string_view::npos &&
           text.find_first_of("0123456789") != std::string_view::npos;
}

// A scalar without `${…}`: quoted text is always a string; plain text is a bool, an integer,
// a real or else a string.
ExprValue literal_value(const SourceFile& file, const YAML::Node& node) {
    const std::string& text = node.Scalar();
    if (node.Tag() != "?") return text;
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
    if (!looks_like_number(text)) return text;
    const std::string_view digits = text.front() == '+' ? std::string_view(text).substr(1) : std::string_view(text);
    std::int64_t integer = 0;
    auto [int_end, int_error] = std::from_chars(digits.data(), digits.data() + digits.size(), integer);
    if (int_error == std::errc() && int_end == digits.data() + digits.size()) return integer;
    if (int_error == std::errc::result_out_of_range) fail_at(file, node, fmt::format("integer {} is out of range", text));
    double real = 0;
    auto [real_end, real_error] = std::from_chars(digits.data(), digits.data() + digits.size(), real);
    if (real_error == std::errc() && real_end == digits.data() + digits.size()) return real;
    return text;
}

// Where an expression error points: the scalar's own position plus the offset into it (one
// more for the opening quote of a quoted scalar).
SourceLocation expression_location(const SourceFile& file, const YAML::Node& node, std::size_t offset) {
    SourceLocation where = location_of(file, node);
    if (where.line > 0) where.column += static_cast<int>(offset) + (node.Tag() == "!" ? 1 : 0);
    return where;
}

[[noreturn]] void fail_type(const SourceFile& file, const YAML::Node& node, std::string_view expected,
                            std::string_view what, const ExprValue& got) {
    fail_at(file, node, fmt::format("expected {} for {}, got {} {}", expected, what, expr_type_name(got),
                                    format_expr_value(got)));
}

AttrValue attribute_from(const ExprValue& value) {
    return std::visit([](const auto& v) -> AttrValue { return v; }, value);
}

// A list attribute holds numbers only: all integers give integers, otherwise reals.
AttrValue evaluate_attribute_list(const SourceFile& file, const YAML::Node& list, const VariableBindings& vars,
                                  std::string_view what) {
    std::vector<ExprValue> items;
    bool all_integers = true;
    for (const YAML::Node& element : list) {
        ExprValue value = evaluate_scalar(file, element, vars, what);
        if (std::holds_alternative<bool>(value) || std::holds_alternative<std::string>(value))
            fail_type(file, element, "a number (attribute lists hold numbers only)", what, value);
        all_integers = all_integers && std::holds_alternative<std::int64_t>(value);
        items.push_back(std::move(value));
    }
    if (all_integers) {
        std::vector<std::int64_t> integers;
        for (const ExprValue& v : items) integers.push_back(std::get<std::int64_t>(v));
        return integers;
    }
    std::vector<double> reals;
    for (const ExprValue& v : items)
        reals.push_back(std::holds_alternative<double>(v) ? std::get<double>(v)
                                                          : static_cast<double>(std::get<std::int64_t>(v)));
    return reals;
}

}  // namespace

SourceLocation location_of(const SourceFile& file, const YAML::Node& node) {
    const YAML::Mark mark = node.Mark();
    if (mark.is_null()) return SourceLocation{file.display, 0, 0};
    return SourceLocation{file.display, mark.line + 1, mark.column + 1};
}

[[noreturn]] void fail_at(const SourceLocation& where, const std::string& what) {
    throw Error(fmt::format("{}: {}", where.str(), what));
}

[[noreturn]] void fail_at(const SourceFile& file, const YAML::Node& node, const std::string& what) {
    fail_at(location_of(file, node), what);
}

YAML::Node parse_yaml(const std::string& text, const std::string& display) {
    try {
        return YAML::Load(text);
    } catch (const YAML::ParserException& error) {
        // yaml-cpp reads `{` and `[` inside a flow collection as structure, so `[${a}, 2]`
        // fails with a message about flows that does not say why.
        const bool flow_hint = error.msg.find("flow") != std::string::npos && text.find("${") != std::string::npos;
        throw Error(fmt::format("{}:{}:{}: malformed YAML: {}{}", display, error.mark.line + 1, error.mark.column + 1,
                                error.msg, flow_hint ? " (inside [ ] or { }, a value holding ${…} must be quoted)" : ""));
    }
}

SourceFilePtr load_source(const fs::path& path, const std::string& display) {
    auto file = std::make_shared<SourceFile>();
    file->path = path;
    file->display = display;
    file->root = parse_yaml(read_whole_file(path, kMaxGraphFileBytes, "a graph file"), display);
    return file;
}

const YAML::Node& require_sequence(const SourceFile& file, const YAML::Node& node, std::string_view what) {
    if (!node.IsSequence()) fail_at(file, node, fmt::format("expected a sequence (a YAML list) for {}", what));
    return node;
}

// `inputs: x` and `inputs: [x, y]` alike.
std::vector<YAML::Node> scalar_or_list(const YAML::Node& node) {
    if (!node.IsSequence()) return {node};
    std::vector<YAML::Node> items;
    for (const YAML::Node& item : node) items.push_back(item);
    return items;
}

void require_identifier(const SourceFile& file, const YAML::Node& key_node, const std::string& name,
                        std::string_view what) {
    if (!is_identifier(name))
        fail_at(file, key_node, fmt::format("{} '{}' must be a name usable in expressions (letters, digits, _; "
                                            "not a keyword)", what, name));
}

ExprValue evaluate_scalar(const SourceFile& file, const YAML::Node& node, const VariableBindings& vars,
                          std::string_view what) {
    if (node.IsNull()) fail_at(file, node, fmt::format("expected a value for {}", what));
    if (!node.IsScalar()) fail_at(file, node, fmt::format("expected a single value for {}, not a list or mapping", what));
    try {
        if (auto value = evaluate_template(node.Scalar(), vars)) return *value;
    } catch (const ExpressionError& error) {
        fail_at(expression_location(file, node, error.offset()), error.what());
    }
    return literal_value(file, node);
}

std::int64_t evaluate_integer(const SourceFile& file, const YAML::Node& node, const VariableBindings& vars,
                              std::string_view what) {
    const ExprValue value = evaluate_scalar(file, node, vars, what);
    if (const auto* integer = std::get_if<std::int64_t>(&value)) return *integer;
    fail_type(file, node, "an integer", what, value);
}

bool evaluate_bool(const SourceFile& file, const YAML::Node& node, const VariableBindings& vars, std::string_view what) {
    const ExprValue value = evaluate_scalar(file, node, vars, what);
    if (const auto* flag = std::get_if<bool>(&value)) return *flag;
    fail_type(file, node, "true or false", what, value);
}

// Any scalar, as text (names, op names, meta values): `block${b}`, `3`.
std::string evaluate_text(const SourceFile& file, const YAML::Node& node, const VariableBindings& vars,
                          std::string_view what) {
    return format_expr_value(evaluate_scalar(file, node, vars, what));
}

AttrValue evaluate_attribute(const SourceFile& file, const YAML::Node& node, const VariableBindings& vars,
                             std::string_view what) {
    if (node.IsSequence()) return evaluate_attribute_list(file, node, vars, what);
    return attribute_from(evaluate_scalar(file, node, vars, what));
}

}  // namespace weft::graph_file
