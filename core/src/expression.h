// The expression language of graph files (docs/graph-format.md, "Expressions"): `${L * M}`,
// `${2 if s > 0 and b == 0 else 1}`, `${max(1, width // 16)}`. Private to the graph-file loader;
// it knows nothing of YAML, so errors carry an offset into the text and the loader turns that
// offset into file:line:column.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace weft::graph_file {

// What an expression (or a parameter) can hold.
using ExprValue = std::variant<std::int64_t, double, bool, std::string>;

std::string_view expr_type_name(const ExprValue& value);  // "integer", "real", "bool", "string"
std::string format_expr_value(const ExprValue& value);    // as interpolated into a string

// The variables an expression sees (params, derived values, block arguments, loop variables):
// these bindings' own, then their parent's (a block's arguments shadow the family's parameters;
// a loop variable shadows both). Not the graph's Node::scope, the block instances a node lies in.
class VariableBindings {
public:
    explicit VariableBindings(const VariableBindings* parent = nullptr) : parent_(parent) {}

    void define(const std::string& name, ExprValue value) { values_[name] = std::move(value); }
    const ExprValue* find(std::string_view name) const;
    bool defines_locally(std::string_view name) const { return values_.find(name) != values_.end(); }
    std::vector<std::string> visible_names() const;  // sorted, for error messages

private:
    std::map<std::string, ExprValue, std::less<>> values_;
    const VariableBindings* parent_;
};

// Thrown for any syntax or evaluation error; `offset` indexes the text that was evaluated.
class ExpressionError : public std::runtime_error {
public:
    ExpressionError(std::size_t offset, const std::string& message)
        : std::runtime_error(message), offset_(offset) {}
    std::size_t offset() const { return offset_; }

private:
    std::size_t offset_;
};

// Evaluates one expression: the text between `${` and `}`.
ExprValue evaluate_expression(std::string_view text, const VariableBindings& variables);

// Evaluates a scalar that may hold `${…}`: nullopt when it holds none (a literal, typed by the
// caller); the expression's own value when the text is exactly one `${…}`; otherwise the text
// with every `${…}` replaced by its formatted value. `$${` stands for a literal `${`.
std::optional<ExprValue> evaluate_template(std::string_view text, const VariableBindings& variables);

}  // namespace weft::graph_file
