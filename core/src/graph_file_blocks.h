// The block library of one load (docs/graph-format.md, "Block definitions"): the `blocks:` of the
// family file and of every file it includes, transitively (each read once; cycles, depth and
// duplicate names are errors). It is separate from the expansion because it is built once, from
// files, before any `graph:` item expands; the Expander only looks blocks up in it.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "graph_file_family.h"

namespace weft::graph_file {

// =============================================================================================
// Blocks and includes

struct BlockArg {
    std::string name;
    YAML::Node default_value;  // null: required
};

struct BlockDef {
    std::string name;
    SourceFilePtr file;
    YAML::Node node;
    std::vector<BlockArg> args;
    YAML::Node body;
    std::optional<YAML::Node> output;
};

// Keys a block call uses itself; a block's arguments cannot take these names.
inline const std::vector<std::string_view> kCallKeys = {"block", "name", "inputs", "if"};

class BlockLibrary {
public:
    void add_family(const FamilyFile& family);
    const BlockDef* find(std::string_view name) const;
    std::string names() const;  // for error messages: "none" or "a, b, c"

private:
    void add_file(const SourceFilePtr& file, const Mapping& top, std::vector<std::filesystem::path>& chain);
    void include_all(const SourceFile& from, const YAML::Node& include, std::vector<std::filesystem::path>& chain);
    void include_one(const SourceFile& from, const YAML::Node& item, std::vector<std::filesystem::path>& chain);
    void add_block(const SourceFilePtr& file, const Entry& entry);

    std::map<std::string, BlockDef, std::less<>> blocks_;
    std::set<std::filesystem::path> included_;
};

}  // namespace weft::graph_file
