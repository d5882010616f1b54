// Graph-file expressions: a tokenizer, a recursive-descent parser producing a small tree, and an
// evaluator. The tree exists so that `a if c else b`, `and` and `or` evaluate only the operand
// they select (`${x // n if n > 0 else 0}` must not divide by zero).
//
// Grammar, lowest precedence first (Python's, plus C's `c ? a : b`):
//   conditional := or_expr [ "if" or_expr "else" conditional | "?" conditional ":" conditional ]
//   or_expr     := and_expr { "or" and_expr }
//   and_expr    := not_expr { "and" not_expr }
//   not_expr    := "not" not_expr | comparison
//   comparison  := sum [ ("==" | "!=" | "<" | "<=" | ">" | ">=") sum ]
//   sum         := product { ("+" | "-") product }
//   product     := unary { ("*" | "/" | "//" | "%") unary }
//   unary       := ("-" | "+") unary | power
//   power       := atom [ "**" unary ]
//   atom        := number | string | "true" | "false" | name | name "(" args ")" | "(" conditional ")"
#include "expression.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <memory>

#include <fmt/format.h>

namespace weft::graph_file {

std::string_view expr_type_name(const ExprValue& value) {
    static constexpr std::string_view names[] = {"integer", "real", "bool", "string"};
    return names[value.index()];
}

std::string format_expr_value(const ExprValue& value) {
    if (const auto* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
    if (const auto* s = std::get_if<std::string>(&value)) return *s;
    if (const auto* i = std::get_if<std::int64_t>(&value)) return std::to_string(*i);
    return fmt::format("{}", std::get<double>(value));
}

const ExprValue* VariableBindings::find(std::string_view name) const {
    for (const VariableBindings* level = this; level; level = level->parent_) {
        auto it = level->values_.find(name);
        if (it != level->values_.end()) return &it->second;
    }
    return nullptr;
}

std::vector<std::string> VariableBindings::visible_names() const {
    std::vector<std::string> names;
    for (const VariableBindings* level = this; level; level = level->parent_)
        for (const auto& [name, value] : level->values_) names.push_back(name);
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Tokens

enum class TokenKind { integer, real, string, name, symbol, end };

struct Token {
    TokenKind kind = TokenKind::end;
    std::string_view text;  // the source text (for strings: without the quotes)
    std::size_t offset = 0;
};

constexpr std::string_view kSymbols[] = {"**", "//", "==", "!=", "<=", ">=", "<", ">", "+",
                                         "-",  "*",  "/",  "%",  "(",  ")",  ",", "?", ":"};

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || std::isdigit(static_cast<unsigned char>(c)); }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

class Tokenizer {
public:
    explicit Tokenizer(std::string_view text) : text_(text) {}

    std::vector<Token> run() {
        std::vector<Token> tokens;
        for (skip_spaces(); pos_ < text_.size(); skip_spaces()) tokens.push_back(next());
        tokens.push_back(Token{TokenKind::end, {}, text_.size()});
        return tokens;
    }

private:
    void skip_spaces() {
        while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    }

    Token next() {
        const char c = text_[pos_];
        if (is_digit(c) || (c == '.' && pos_ + 1 < text_.size() && is_digit(text_[pos_ + 1])))
            return number();
        if (is_name_start(c)) return take(TokenKind::name, scan_while(is_name_char));
        if (c == '"' || c == '\'') return quoted(c);
        for (std::string_view symbol : kSymbols)
            if (text_.substr(pos_, symbol.size()) == symbol) return take(TokenKind::symbol, symbol.size());
        throw ExpressionError(pos_, fmt::format("unexpected character '{}' in expression{}", c,
                                                c == '&' || c == '|' || c == '!'
                                                    ? " (write and, or, not)" : ""));
    }

    std::size_t scan_while(bool (*accept)(char)) const {
        std::size_t end = pos_;
        while (end < text_.size() && accept(text_[end])) ++end;
        return end - pos_;
    }

    Token take(TokenKind kind, std::size_t length) {
        Token token{kind, text_.substr(pos_, length), pos_};
        pos_ += length;
        return token;
    }

    // Digits with an optional fraction and exponent; a fraction or exponent makes it real.
    Token number() {
        std::size_t end = pos_;
        bool real = false;
        auto digits = [&] { while (end < text_.size() && is_digit(text_[end])) ++end; };
        digits();
        if (end < text_.size() && text_[end] == '.') { real = true; ++end; digits(); }
        if (end < text_.size() && (text_[end] == 'e' || text_[end] == 'E')) {
            std::size_t exponent = end + 1;
            if (exponent < text_.size() && (text_[exponent] == '+' || text_[exponent] == '-')) ++exponent;
            if (exponent < text_.size() && is_digit(text_[exponent])) { real = true; end = exponent; digits(); }
        }
        if (end < text_.size() && is_name_char(text_[end]))
            throw ExpressionError(end, fmt::format("malformed number '{}'", text_.substr(pos_, end + 1 - pos_)));
        return take(real ? TokenKind::real : TokenKind::integer, end - pos_);
    }

    Token quoted(char quote) {
        const std::size_t close = text_.find(quote, pos_ + 1);
        if (close == std::string_view::npos)
            throw ExpressionError(pos_, fmt::format("unterminated string (expected a closing {})", quote));
        Token token{TokenKind::string, text_.substr(pos_ + 1, close - pos_ - 1), pos_};
        pos_ = close + 1;
        return token;
    }

    std::string_view text_;
    std::size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Syntax tree

enum class ExprKind { literal, name, negate, logical_not, binary, logical_and, logical_or, conditional, call };

// Far deeper than any real expression. The parser, the evaluator and the tree's destructor each
// recurse once per level, so without a bound `((((…1…))))`, `not not … true` or `1+1+…+1` in a
// graph file would overflow the stack instead of being an error.
constexpr int kMaxNesting = 200;

struct Expr {
    ExprKind kind;
    std::size_t offset;       // where an error about this expression should point
    ExprValue literal;        // for literal
    std::string_view text;    // operator, name or function
    std::vector<std::unique_ptr<Expr>> operands;
    int depth = 1;            // levels of the tree below and including this node
};

using ExprPtr = std::unique_ptr<Expr>;

ExprPtr make_expr(ExprKind kind, std::size_t offset, std::string_view text = {},
                  std::vector<ExprPtr> operands = {}) {
    auto expr = std::make_unique<Expr>();
    expr->kind = kind;
    expr->offset = offset;
    expr->text = text;
    expr->operands = std::move(operands);
    // Left-associative chains (`1+1+…`) are built by loops, not recursion: bound them here.
    for (const auto& operand : expr->operands) expr->depth = std::max(expr->depth, operand->depth + 1);
    if (expr->depth > kMaxNesting)
        throw ExpressionError(offset, fmt::format("expression nested deeper than {} levels", kMaxNesting));
    return expr;
}

template <class... Operands>
std::vector<ExprPtr> operand_list(Operands&&... operands) {
    std::vector<ExprPtr> list;
    (list.push_back(std::forward<Operands>(operands)), ...);
    return list;
}

bool is_comparison(std::string_view symbol) {
    return symbol == "==" || symbol == "!=" || symbol == "<" || symbol == "<=" || symbol == ">" ||
           symbol == ">=";
}

class Parser {
public:
    explicit Parser(std::string_view text) : tokens_(Tokenizer(text).run()) {}

    ExprPtr parse() {
        if (peek().kind == TokenKind::end) throw ExpressionError(0, "empty expression");
        ExprPtr expr = conditional();
        if (peek().kind != TokenKind::end) unexpected("an operator or the end of the expression");
        return expr;
    }

private:
    const Token& peek() const { return tokens_[pos_]; }
    bool at_symbol(std::string_view symbol) const {
        return peek().kind == TokenKind::symbol && peek().text == symbol;
    }
    bool at_keyword(std::string_view word) const {
        return peek().kind == TokenKind::name && peek().text == word;
    }
    const Token& advance() { return tokens_[pos_++]; }

    [[noreturn]] void unexpected(std::string_view expected) const {
        const Token& token = peek();
        const std::string found = token.kind == TokenKind::end ? std::string("the end of the expression")
                                                                : fmt::format("'{}'", token.text);
        throw ExpressionError(token.offset, fmt::format("expected {}, found {}", expected, found));
    }

    // Counts the parser's own recursion (parentheses, arguments, `not`, signs, `**`, chained
    // conditionals), which descends before any node exists to measure.
    class Descent {
    public:
        explicit Descent(Parser& parser) : parser_(parser) {
            if (parser_.nesting_ == kMaxNesting)
                throw ExpressionError(parser_.peek().offset,
                                      fmt::format("expression nested deeper than {} levels", kMaxNesting));
            ++parser_.nesting_;
        }
        ~Descent() { --parser_.nesting_; }
        Descent(const Descent&) = delete;
        Descent& operator=(const Descent&) = delete;

    private:
        Parser& parser_;
    };

    void expect_symbol(std::string_view symbol) {
        if (!at_symbol(symbol)) unexpected(fmt::format("'{}'", symbol));
        advance();
    }

    ExprPtr conditional() {
        const Descent descent(*this);
        ExprPtr first = or_expr();
        if (at_keyword("if")) {  // value if condition else alternative
            const std::size_t offset = advance().offset;
            ExprPtr condition = or_expr();
            if (!at_keyword("else")) unexpected("'else'");
            advance();
            return make_expr(ExprKind::conditional, offset, {},
                             operand_list(std::move(condition), std::move(first), conditional()));
        }
        if (at_symbol("?")) {  // condition ? value : alternative
            const std::size_t offset = advance().offset;
            ExprPtr value = conditional();
            expect_symbol(":");
            return make_expr(ExprKind::conditional, offset, {},
                             operand_list(std::move(first), std::move(value), conditional()));
        }
        return first;
    }

    ExprPtr or_expr() {
        ExprPtr left = and_expr();
        while (at_keyword("or")) {
            const std::size_t offset = advance().offset;
            left = make_expr(ExprKind::logical_or, offset, "or", operand_list(std::move(left), and_expr()));
        }
        return left;
    }

    ExprPtr and_expr() {
        ExprPtr left = not_expr();
        while (at_keyword("and")) {
            const std::size_t offset = advance().offset;
            left = make_expr(ExprKind::logical_and, offset, "and", operand_list(std::move(left), not_expr()));
        }
        return left;
    }

    ExprPtr not_expr() {
        if (!at_keyword("not")) return comparison();
        const Descent descent(*this);
        const std::size_t offset = advance().offset;
        return make_expr(ExprKind::logical_not, offset, "not", operand_list(not_expr()));
    }

    ExprPtr comparison() {
        ExprPtr left = sum();
        if (peek().kind != TokenKind::symbol || !is_comparison(peek().text)) return left;
        const Token& op = advance();
        ExprPtr result = make_expr(ExprKind::binary, op.offset, op.text, operand_list(std::move(left), sum()));
        if (peek().kind == TokenKind::symbol && is_comparison(peek().text))
            throw ExpressionError(peek().offset, "chained comparisons are not supported (join them with 'and')");
        return result;
    }

    ExprPtr sum() {
        ExprPtr left = product();
        while (at_symbol("+") || at_symbol("-")) {
            const Token& op = advance();
            left = make_expr(ExprKind::binary, op.offset, op.text, operand_list(std::move(left), product()));
        }
        return left;
    }

    ExprPtr product() {
        ExprPtr left = unary();
        while (at_symbol("*") || at_symbol("/") || at_symbol("//") || at_symbol("%")) {
            const Token& op = advance();
            left = make_expr(ExprKind::binary, op.offset, op.text, operand_list(std::move(left), unary()));
        }
        return left;
    }

    ExprPtr unary() {
        if (!at_symbol("+") && !at_symbol("-")) return power();
        const Descent descent(*this);
        if (at_symbol("+")) { advance(); return unary(); }
        const std::size_t offset = advance().offset;
        return make_expr(ExprKind::negate, offset, "-", operand_list(unary()));
    }

    ExprPtr power() {  // right-associative and tighter than a unary minus on its left: -2**2 == -4
        ExprPtr base = atom();
        if (!at_symbol("**")) return base;
        const Descent descent(*this);
        const std::size_t offset = advance().offset;
        return make_expr(ExprKind::binary, offset, "**", operand_list(std::move(base), unary()));
    }

    ExprPtr atom() {
        const Token& token = peek();
        switch (token.kind) {
            case TokenKind::integer: return literal(advance(), parse_integer(token));
            case TokenKind::real: return literal(advance(), parse_real(token));
            case TokenKind::string: return literal(advance(), std::string(token.text));
            case TokenKind::name: return name_or_call();
            case TokenKind::symbol:
                if (at_symbol("(")) {
                    advance();
                    ExprPtr inner = conditional();
                    expect_symbol(")");
                    return inner;
                }
                break;
            case TokenKind::end: break;
        }
        unexpected("a number, a name or '('");
    }

    static ExprValue parse_integer(const Token& token) {
        std::int64_t value = 0;
        auto [end, error] = std::from_chars(token.text.data(), token.text.data() + token.text.size(), value);
        if (error != std::errc()) throw ExpressionError(token.offset, fmt::format("integer {} is out of range", token.text));
        return value;
    }

    static ExprValue parse_real(const Token& token) {
        double value = 0;
        auto [end, error] = std::from_chars(token.text.data(), token.text.data() + token.text.size(), value);
        if (error != std::errc()) throw ExpressionError(token.offset, fmt::format("number {} is out of range", token.text));
        return value;
    }

    static ExprPtr literal(const Token& token, ExprValue value) {
        ExprPtr expr = make_expr(ExprKind::literal, token.offset);
        expr->literal = std::move(value);
        return expr;
    }

    ExprPtr name_or_call() {
        const Token& token = advance();
        if (token.text == "true" || token.text == "True") return literal(token, true);
        if (token.text == "false" || token.text == "False") return literal(token, false);
        static constexpr std::string_view keywords[] = {"and", "or", "not", "if", "else"};
        if (std::find(std::begin(keywords), std::end(keywords), token.text) != std::end(keywords)) {
            --pos_;
            unexpected("a number, a name or '('");
        }
        if (!at_symbol("(")) return make_expr(ExprKind::name, token.offset, token.text);
        advance();
        std::vector<ExprPtr> arguments;
        if (!at_symbol(")")) {
            arguments.push_back(conditional());
            while (at_symbol(",")) { advance(); arguments.push_back(conditional()); }
        }
        expect_symbol(")");
        return make_expr(ExprKind::call, token.offset, token.text, std::move(arguments));
    }

    std::vector<Token> tokens_;
    std::size_t pos_ = 0;
    int nesting_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Evaluation

bool is_number(const ExprValue& value) {
    return std::holds_alternative<std::int64_t>(value) || std::holds_alternative<double>(value);
}

double as_real(const ExprValue& value) {
    if (const auto* i = std::get_if<std::int64_t>(&value)) return static_cast<double>(*i);
    return std::get<double>(value);
}

std::int64_t checked_power(std::int64_t base, std::int64_t exponent, std::size_t offset) {
    if (exponent < 0) throw ExpressionError(offset, "negative exponent in integer power (write a real base, e.g. 2.0)");
    if (base == 0 || base == 1) return exponent == 0 ? 1 : base;
    if (base == -1) return exponent % 2 == 0 ? 1 : -1;
    std::int64_t result = 1;  // |base| >= 2, so overflow comes within 63 steps
    for (std::int64_t i = 0; i < exponent; ++i)
        if (__builtin_mul_overflow(result, base, &result))
            throw ExpressionError(offset, fmt::format("integer overflow in {} ** {}", base, exponent));
    return result;
}

std::int64_t floor_divide(std::int64_t a, std::int64_t b) {
    const std::int64_t quotient = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? quotient - 1 : quotient;
}

std::int64_t floor_modulo(std::int64_t a, std::int64_t b) {
    const std::int64_t remainder = a % b;
    return (remainder != 0 && ((remainder < 0) != (b < 0))) ? remainder + b : remainder;
}

// `/` on integers is exact division: channel counts that do not divide are a mistake in the
// file, not something to round silently (`//` rounds down when that is what is meant).
std::int64_t integer_arithmetic(std::string_view op, std::int64_t a, std::int64_t b, std::size_t offset) {
    std::int64_t result = 0;
    bool overflow = false;
    if (op == "+") overflow = __builtin_add_overflow(a, b, &result);
    else if (op == "-") overflow = __builtin_sub_overflow(a, b, &result);
    else if (op == "*") overflow = __builtin_mul_overflow(a, b, &result);
    else if (op == "**") return checked_power(a, b, offset);
    else {
        if (b == 0) throw ExpressionError(offset, fmt::format("division by zero in {} {} 0", a, op));
        if (a == INT64_MIN && b == -1) throw ExpressionError(offset, "integer overflow in division");
        if (op == "//") return floor_divide(a, b);
        if (op == "%") return floor_modulo(a, b);
        if (a % b != 0)
            throw ExpressionError(offset, fmt::format("{} / {} is not a whole number (use // to round down)", a, b));
        return a / b;
    }
    if (overflow) throw ExpressionError(offset, fmt::format("integer overflow in {} {} {}", a, op, b));
    return result;
}

double real_arithmetic(std::string_view op, double a, double b, std::size_t offset) {
    if ((op == "/" || op == "//" || op == "%") && b == 0)
        throw ExpressionError(offset, fmt::format("division by zero in {} {} 0", a, op));
    if (op == "+") return a + b;
    if (op == "-") return a - b;
    if (op == "*") return a * b;
    if (op == "/") return a / b;
    if (op == "//") return std::floor(a / b);
    if (op == "%") return a - b * std::floor(a / b);
    return std::pow(a, b);
}

template <class T>
bool compare(std::string_view op, const T& a, const T& b) {
    if (op == "==") return a == b;
    if (op == "!=") return a != b;
    if (op == "<") return a < b;
    if (op == "<=") return a <= b;
    if (op == ">") return a > b;
    return a >= b;
}

class Evaluator {
public:
    explicit Evaluator(const VariableBindings& variables) : variables_(variables) {}

    ExprValue eval(const Expr& expr) const {
        switch (expr.kind) {
            case ExprKind::literal: return expr.literal;
            case ExprKind::name: return lookup(expr);
            case ExprKind::negate: return negate(expr);
            case ExprKind::logical_not: return !condition(*expr.operands[0], "not");
            case ExprKind::logical_and:
                return condition(*expr.operands[0], "and") && condition(*expr.operands[1], "and");
            case ExprKind::logical_or:
                return condition(*expr.operands[0], "or") || condition(*expr.operands[1], "or");
            case ExprKind::conditional:
                return condition(*expr.operands[0], "a condition") ? eval(*expr.operands[1])
                                                                    : eval(*expr.operands[2]);
            case ExprKind::binary: return binary(expr);
            case ExprKind::call: return call(expr);
        }
        return {};
    }

private:
    ExprValue lookup(const Expr& expr) const {
        if (const ExprValue* value = variables_.find(expr.text)) return *value;
        const auto names = variables_.visible_names();
        throw ExpressionError(expr.offset, fmt::format("undefined parameter '{}' (defined here: {})", expr.text,
                                                       names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
    }

    bool condition(const Expr& expr, std::string_view context) const {
        ExprValue value = eval(expr);
        if (const auto* b = std::get_if<bool>(&value)) return *b;
        throw ExpressionError(expr.offset, fmt::format("expected a bool for {}, got {} {}", context,
                                                       expr_type_name(value), format_expr_value(value)));
    }

    ExprValue number(const Expr& expr, std::string_view context) const {
        ExprValue value = eval(expr);
        if (!is_number(value))
            throw ExpressionError(expr.offset, fmt::format("expected a number for {}, got {} {}", context,
                                                           expr_type_name(value), format_expr_value(value)));
        return value;
    }

    ExprValue negate(const Expr& expr) const {
        ExprValue value = number(*expr.operands[0], "'-'");
        if (const auto* d = std::get_if<double>(&value)) return -*d;
        const std::int64_t i = std::get<std::int64_t>(value);
        if (i == INT64_MIN) throw ExpressionError(expr.offset, "integer overflow in negation");
        return -i;
    }

    ExprValue binary(const Expr& expr) const {
        if (is_comparison(expr.text)) return comparison(expr);
        const std::string context = fmt::format("'{}'", expr.text);
        const ExprValue a = number(*expr.operands[0], context);
        const ExprValue b = number(*expr.operands[1], context);
        const auto* ia = std::get_if<std::int64_t>(&a);
        const auto* ib = std::get_if<std::int64_t>(&b);
        if (ia && ib) return integer_arithmetic(expr.text, *ia, *ib, expr.offset);
        return real_arithmetic(expr.text, as_real(a), as_real(b), expr.offset);
    }

    ExprValue comparison(const Expr& expr) const {
        const ExprValue a = eval(*expr.operands[0]);
        const ExprValue b = eval(*expr.operands[1]);
        const auto* ia = std::get_if<std::int64_t>(&a);
        const auto* ib = std::get_if<std::int64_t>(&b);
        if (ia && ib) return compare(expr.text, *ia, *ib);
        if (is_number(a) && is_number(b)) return compare(expr.text, as_real(a), as_real(b));
        const bool equality = expr.text == "==" || expr.text == "!=";
        if (a.index() == b.index() && (std::holds_alternative<std::string>(a) || equality))
            return compare(expr.text, a, b);
        throw ExpressionError(expr.offset, fmt::format("cannot compare {} {} with {} {} using '{}'", expr_type_name(a),
                                                       format_expr_value(a), expr_type_name(b),
                                                       format_expr_value(b), expr.text));
    }

    ExprValue call(const Expr& expr) const {
        if (expr.text != "min" && expr.text != "max")
            throw ExpressionError(expr.offset, fmt::format("unknown function '{}' (known: min, max)", expr.text));
        if (expr.operands.empty())
            throw ExpressionError(expr.offset, fmt::format("{}() needs at least one argument", expr.text));
        const bool want_min = expr.text == "min";
        const std::string context = fmt::format("{}()", expr.text);
        ExprValue best = number(*expr.operands[0], context);
        for (std::size_t i = 1; i < expr.operands.size(); ++i) {
            ExprValue candidate = number(*expr.operands[i], context);
            const bool smaller = as_real(candidate) < as_real(best);
            const bool larger = as_real(candidate) > as_real(best);
            if (want_min ? smaller : larger) best = std::move(candidate);
        }
        return best;
    }

    const VariableBindings& variables_;
};

// The end of a `${…}` starting at `open` (the index of '$'): the index of its '}', skipping
// quoted strings so that `${mode == "}"}` works.
std::size_t find_expression_end(std::string_view text, std::size_t open) {
    char quote = 0;
    for (std::size_t i = open + 2; i < text.size(); ++i) {
        const char c = text[i];
        if (quote) {
            if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '}') {
            return i;
        }
    }
    throw ExpressionError(open, "unterminated '${' (expected '}')");
}

ExprValue evaluate_at(std::string_view text, std::size_t begin, std::size_t end, const VariableBindings& variables) {
    try {
        return evaluate_expression(text.substr(begin, end - begin), variables);
    } catch (const ExpressionError& error) {
        throw ExpressionError(begin + error.offset(), error.what());
    }
}

}  // namespace

ExprValue evaluate_expression(std::string_view text, const VariableBindings& variables) {
    ExprPtr tree = Parser(text).parse();
    return Evaluator(variables).eval(*tree);
}

std::optional<ExprValue> evaluate_template(std::string_view text, const VariableBindings& variables) {
    if (text.find("${") == std::string_view::npos) return std::nullopt;
    if (text.starts_with("${")) {
        const std::size_t close = find_expression_end(text, 0);
        if (close + 1 == text.size()) return evaluate_at(text, 2, close, variables);
    }
    std::string result;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t open = text.find("${", pos);
        if (open == std::string_view::npos) break;
        if (open > 0 && text[open - 1] == '$') {  // "$${" is a literal "${"
            result.append(text.substr(pos, open - 1 - pos)).append("${");
            pos = open + 2;
            continue;
        }
        const std::size_t close = find_expression_end(text, open);
        result.append(text.substr(pos, open - pos));
        result += format_expr_value(evaluate_at(text, open + 2, close, variables));
        pos = close + 1;
    }
    result.append(text.substr(pos));
    return ExprValue(std::move(result));
}

}  // namespace weft::graph_file
