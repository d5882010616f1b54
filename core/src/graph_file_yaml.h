// The YAML layer of the graph-file loader: source files and positions, strict mappings (a duplicate
// or an unknown key is an error pointing at the key) and scalars, typed as YAML 1.2 literals or
// evaluated as `${…}` into expression and attribute values. It is separate so that the parts above
// it (families, blocks, expansion) read YAML only through these checks, and every error they
// raise carries file:line:column.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "expression.h"
#include "weft/attributes.h"
#include "weft/error.h"

namespace weft::graph_file {

// =============================================================================================
// Source files and positions

struct SourceFile {
    std::filesystem::path path;
    std::string display;  // how errors name the file
    YAML::Node root;
};
using SourceFilePtr = std::shared_ptr<const SourceFile>;

SourceLocation location_of(const SourceFile& file, const YAML::Node& node);
[[noreturn]] void fail_at(const SourceLocation& where, const std::string& what);
[[noreturn]] void fail_at(const SourceFile& file, const YAML::Node& node, const std::string& what);

YAML::Node parse_yaml(const std::string& text, const std::string& display);
SourceFilePtr load_source(const std::filesystem::path& path, const std::string& display);

// =============================================================================================
// Mappings: duplicate keys and unknown keys are errors, pointing at the key

struct Entry {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
};

class Mapping {
public:
    Mapping(const SourceFile& file, const YAML::Node& node, std::string_view what) : file_(file), node_(node) {
        if (!node.IsMap()) fail_at(file, node, fmt::format("expected a mapping for {}", what));
        for (auto it = node.begin(); it != node.end(); ++it) {
            if (!it->first.IsScalar()) fail_at(file, it->first, fmt::format("expected a plain key in {}", what));
            const std::string key = it->first.Scalar();
            if (const Entry* first = find(key))
                fail_at(file, it->first, fmt::format("duplicate key '{}' in {} (first given at line {})", key, what,
                                                     first->key_node.Mark().line + 1));
            entries_.push_back(Entry{key, it->first, it->second});
        }
    }

    const Entry* find(std::string_view key) const {
        auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; });
        return it == entries_.end() ? nullptr : &*it;
    }
    const YAML::Node* get(std::string_view key) const {
        const Entry* entry = find(key);
        return entry ? &entry->value : nullptr;
    }
    const YAML::Node& require(std::string_view key, std::string_view what) const {
        if (const YAML::Node* value = get(key)) return *value;
        fail_at(file_, node_, fmt::format("{} needs a '{}:' key", what, key));
    }
    void allow_only(const std::vector<std::string_view>& keys, std::string_view what) const {
        for (const Entry& entry : entries_)
            if (std::find(keys.begin(), keys.end(), entry.key) == keys.end())
                fail_at(file_, entry.key_node, fmt::format("unknown key '{}' in {} (expected one of: {})", entry.key,
                                                           what, fmt::join(keys, ", ")));
    }

    const std::vector<Entry>& entries() const { return entries_; }
    const SourceFile& file() const { return file_; }
    SourceLocation where() const { return location_of(file_, node_); }

private:
    const SourceFile& file_;
    YAML::Node node_;
    std::vector<Entry> entries_;
};

const YAML::Node& require_sequence(const SourceFile& file, const YAML::Node& node, std::string_view what);
std::vector<YAML::Node> scalar_or_list(const YAML::Node& node);
void require_identifier(const SourceFile& file, const YAML::Node& key_node, const std::string& name,
                        std::string_view what);

// =============================================================================================
// Scalars: literals typed by YAML 1.2's core schema, `${…}` evaluated

ExprValue evaluate_scalar(const SourceFile& file, const YAML::Node& node, const VariableBindings& vars,
                          std::string_view what);
std::int64_t evaluate_integer(const SourceFile& file, const YAML::Node& node, const VariableBindings& vars,
                              std::string_view what);
bool evaluate_bool(const SourceFile& file, const YAML::Node& node, const VariableBindings& vars, std::string_view what);
std::string evaluate_text(const SourceFile& file, const YAML::Node& node, const VariableBindings& vars,
                          std::string_view what);
AttrValue evaluate_attribute(const SourceFile& file, const YAML::Node& node, const VariableBindings& vars,
                             std::string_view what);

}  // namespace weft::graph_file
