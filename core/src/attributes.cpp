#include "weft/attributes.h"

#include <algorithm>
#include <cmath>
#include <set>

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

namespace {

// Converts a raw attribute (as written in a graph file) to the schema's declared type; returns
// nullopt when it cannot be represented as that type.
std::optional<AttrValue> coerce(const AttrValue& raw, AttrType type) {
    switch (type) {
        case AttrType::integer:
            if (auto p = std::get_if<std::int64_t>(&raw)) return *p;
            break;
        case AttrType::real:
            if (auto p = std::get_if<double>(&raw)) return *p;
            if (auto p = std::get_if<std::int64_t>(&raw)) return static_cast<double>(*p);
            break;
        case AttrType::boolean:
            if (auto p = std::get_if<bool>(&raw)) return *p;
            break;
        case AttrType::string:
            if (auto p = std::get_if<std::string>(&raw)) return *p;
            break;
        case AttrType::integers:
            if (auto p = std::get_if<std::vector<std::int64_t>>(&raw)) return *p;
            if (auto p = std::get_if<std::int64_t>(&raw)) return std::vector<std::int64_t>{*p};
            break;
        case AttrType::reals:
            if (auto p = std::get_if<std::vector<double>>(&raw)) return *p;
            if (auto p = std::get_if<std::vector<std::int64_t>>(&raw))
                return std::vector<double>(p->begin(), p->end());
            if (auto p = std::get_if<double>(&raw)) return std::vector<double>{*p};
            if (auto p = std::get_if<std::int64_t>(&raw)) return std::vector<double>{static_cast<double>(*p)};
            break;
    }
    return std::nullopt;
}

std::vector<double> numbers_of(const AttrValue& v) {
    if (auto p = std::get_if<std::int64_t>(&v)) return {static_cast<double>(*p)};
    if (auto p = std::get_if<double>(&v)) return {*p};
    if (auto p = std::get_if<std::vector<std::int64_t>>(&v)) return {p->begin(), p->end()};
    if (auto p = std::get_if<std::vector<double>>(&v)) return *p;
    return {};
}

void check_range(const AttrSpec& spec, const AttrValue& value) {
    for (double x : numbers_of(value)) {
        if (std::isnan(x) || (spec.min && x < *spec.min) || (spec.max && x > *spec.max)) {
            std::string range = spec.min && spec.max ? fmt::format("between {} and {}", *spec.min, *spec.max)
                                : spec.min           ? fmt::format("at least {}", *spec.min)
                                                     : fmt::format("at most {}", *spec.max);
            throw Error(fmt::format("attribute '{}' = {} is out of range: expected {}", spec.name,
                                    attr_value_str(value), range));
        }
    }
    if (auto s = std::get_if<std::string>(&value); s && !spec.choices.empty()) {
        if (std::find(spec.choices.begin(), spec.choices.end(), *s) == spec.choices.end())
            throw Error(fmt::format("attribute '{}' = '{}' is not one of: {}", spec.name, *s,
                                    fmt::join(spec.choices, ", ")));
    }
}

}  // namespace

Attributes validate_attributes(std::string_view owner, const std::vector<AttrSpec>& specs, const Attributes& raw) {
    Attributes out;
    std::set<std::string, std::less<>> known;
    for (const AttrSpec& spec : specs) {
        known.insert(spec.name);
        const AttrValue* given = raw.find(spec.name);
        if (!given) {
            if (!spec.default_value)
                throw Error(fmt::format("{} needs attribute '{}' ({})", owner, spec.name,
                                        attr_type_name(spec.type)));
            out.set(spec.name, *spec.default_value);
            continue;
        }
        auto value = coerce(*given, spec.type);
        if (!value)
            throw Error(fmt::format("attribute '{}' should be {}, got {} ({})", spec.name,
                                    attr_type_with_article(spec.type), attr_type_name(attr_value_type(*given)),
                                    attr_value_str(*given)));
        check_range(spec, *value);
        out.set(spec.name, std::move(*value));
    }
    for (const auto& [name, value] : raw.values())
        if (!known.count(name)) {
            std::vector<std::string> names;
            for (const AttrSpec& s : specs) names.push_back(s.name);
            throw Error(fmt::format("{} has no attribute '{}' (it has: {})", owner, name,
                                    names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "))));
        }
    return out;
}


}  // namespace weft
