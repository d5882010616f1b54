#include "weft/attributes.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "weft/error.h"

namespace weft {

std::string_view attr_type_name(AttrType type) {
    switch (type) {
        case AttrType::integer: return "integer";
        case AttrType::real: return "number";
        case AttrType::boolean: return "boolean";
        case AttrType::string: return "string";
        case AttrType::integers: return "list of integers";
        case AttrType::reals: return "list of numbers";
    }
    return "?";
}

std::string attr_type_with_article(AttrType type) {
    return fmt::format("{} {}", type == AttrType::integer ? "an" : "a", attr_type_name(type));
}

AttrType attr_value_type(const AttrValue& value) {
    switch (value.index()) {
        case 0: return AttrType::integer;
        case 1: return AttrType::real;
        case 2: return AttrType::boolean;
        case 3: return AttrType::string;
        case 4: return AttrType::integers;
        default: return AttrType::reals;
    }
}

std::string attr_value_str(const AttrValue& value) {
    struct Printer {
        std::string operator()(std::int64_t v) const { return std::to_string(v); }
        std::string operator()(double v) const { return fmt::format("{}", v); }
        std::string operator()(bool v) const { return v ? "true" : "false"; }
        std::string operator()(const std::string& v) const { return v; }
        std::string operator()(const std::vector<std::int64_t>& v) const { return fmt::format("[{}]", fmt::join(v, ", ")); }
        std::string operator()(const std::vector<double>& v) const { return fmt::format("[{}]", fmt::join(v, ", ")); }
    };
    return std::visit(Printer{}, value);
}

const AttrValue* Attributes::find(std::string_view name) const {
    auto it = values_.find(name);
    return it == values_.end() ? nullptr : &it->second;
}

namespace {
const AttrValue& require(const Attributes& attrs, std::string_view name) {
    const AttrValue* v = attrs.find(name);
    if (!v) throw Error(fmt::format("attribute '{}' is missing", name));
    return *v;
}

[[noreturn]] void wrong_type(std::string_view name, AttrType expected, const AttrValue& got) {
    throw Error(fmt::format("attribute '{}' should be {}, got {} ({})", name, attr_type_with_article(expected),
                            attr_type_name(attr_value_type(got)), attr_value_str(got)));
}
}  // namespace

std::int64_t Attributes::get_int(std::string_view name) const {
    const AttrValue& v = require(*this, name);
    if (auto p = std::get_if<std::int64_t>(&v)) return *p;
    wrong_type(name, AttrType::integer, v);
}

double Attributes::get_real(std::string_view name) const {
    const AttrValue& v = require(*this, name);
    if (auto p = std::get_if<double>(&v)) return *p;
    if (auto p = std::get_if<std::int64_t>(&v)) return static_cast<double>(*p);
    wrong_type(name, AttrType::real, v);
}

bool Attributes::get_bool(std::string_view name) const {
    const AttrValue& v = require(*this, name);
    if (auto p = std::get_if<bool>(&v)) return *p;
    wrong_type(name, AttrType::boolean, v);
}

const std::string& Attributes::get_string(std::string_view name) const {
    const AttrValue& v = require(*this, name);
    if (auto p = std::get_if<std::string>(&v)) return *p;
    wrong_type(name, AttrType::string, v);
}

std::vector<std::int64_t> Attributes::get_ints(std::string_view name) const {
    const AttrValue& v = require(*this, name);
    if (auto p = std::get_if<std::vector<std::int64_t>>(&v)) return *p;
    if (auto p = std::get_if<std::int64_t>(&v)) return {*p};
    wrong_type(name, AttrType::integers, v);
}

}  // namespace weft
