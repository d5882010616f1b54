// Typed node attributes and the specs an operator schema declares for them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace weft {

enum class AttrType { integer, real, boolean, string, integers, reals };
std::string_view attr_type_name(AttrType type);
std::string attr_type_with_article(AttrType type);  // "an integer", "a list of numbers"

using AttrValue = std::variant<std::int64_t, double, bool, std::string, std::vector<std::int64_t>,
                               std::vector<double>>;

AttrType attr_value_type(const AttrValue& value);
std::string attr_value_str(const AttrValue& value);

class Attributes {
public:
    void set(std::string name, AttrValue value) { values_[std::move(name)] = std::move(value); }
    bool has(std::string_view name) const { return values_.find(name) != values_.end(); }
    const AttrValue* find(std::string_view name) const;

    // Typed getters: throw weft::Error when missing or of another type. Schemas have already
    // validated and defaulted a node's attributes before a kernel sees them.
    std::int64_t get_int(std::string_view name) const;
    double get_real(std::string_view name) const;  // accepts integers too
    bool get_bool(std::string_view name) const;
    const std::string& get_string(std::string_view name) const;
    std::vector<std::int64_t> get_ints(std::string_view name) const;  // a single int becomes {v}

    const std::map<std::string, AttrValue, std::less<>>& values() const { return values_; }

private:
    std::map<std::string, AttrValue, std::less<>> values_;
};

// What a schema says about one attribute. Validation coerces integers to reals and a single
// integer to a one-element list; everything else must match the declared type.
struct AttrSpec {
    std::string name;
    AttrType type = AttrType::integer;
    std::optional<AttrValue> default_value;  // none = required
    std::string doc;
    std::optional<double> min;              // inclusive, for numbers and each list element
    std::optional<double> max;              // inclusive
    std::vector<std::string> choices;       // for strings; empty = any
};

// Checks `raw` against `specs`: fills in defaults, coerces (an integer where a number is expected,
// a single integer where a list is), checks ranges and choices; throws naming `owner` ("op
// 'group_conv'", "optimizer 'sgd'") and the attribute when something is missing, unknown or wrong.
Attributes validate_attributes(std::string_view owner, const std::vector<AttrSpec>& specs, const Attributes& raw);

}  // namespace weft
