// The block library and includes (graph_file_blocks.h).
#include "graph_file_blocks.h"

#include <algorithm>
#include <system_error>

namespace weft::graph_file {
namespace fs = std::filesystem;

namespace {

// Guards against include chains that would go on without end.
constexpr std::size_t kMaxIncludeDepth = 16;

fs::path canonical_path(const fs::path& path) {
    std::error_code ignored;
    return fs::weakly_canonical(path, ignored);
}

// An include is relative to the including file or, failing that, to a directory of the
// graph search path: a plugin's own graph files can include the installed blocks
// (`include: blocks/common.yaml`) from wherever they live.
fs::path find_include(const SourceFile& from, const YAML::Node& item) {
    std::vector<fs::path> candidates{(from.path.parent_path() / item.Scalar()).lexically_normal()};
    if (fs::path(item.Scalar()).is_relative())
        for (const fs::path& dir : graph_search_path()) candidates.push_back((dir / item.Scalar()).lexically_normal());
    std::vector<std::string> tried;
    for (const fs::path& candidate : candidates) {
        std::error_code ec;
        if (fs::is_regular_file(candidate, ec)) return candidate;
        tried.push_back(candidate.string());
    }
    fail_at(from, item, fmt::format("include '{}' not found (looked for {})", item.Scalar(), fmt::join(tried, ", ")));
}

std::vector<BlockArg> read_args(const SourceFile& file, const YAML::Node& node, const std::string& block) {
    std::vector<BlockArg> args;
    const Mapping mapping(file, node, fmt::format("the args of block '{}'", block));
    for (const Entry& entry : mapping.entries()) {
        require_identifier(file, entry.key_node, entry.key, "block argument");
        if (std::find(kCallKeys.begin(), kCallKeys.end(), entry.key) != kCallKeys.end())
            fail_at(file, entry.key_node, fmt::format("'{}' is reserved and cannot name a block argument", entry.key));
        args.push_back(BlockArg{entry.key, entry.value});
    }
    return args;
}

}  // namespace

void BlockLibrary::add_family(const FamilyFile& family) {
    std::vector<fs::path> chain{canonical_path(family.file->path)};
    add_file(family.file, *family.top, chain);
}

const BlockDef* BlockLibrary::find(std::string_view name) const {
    auto it = blocks_.find(name);
    return it == blocks_.end() ? nullptr : &it->second;
}

std::string BlockLibrary::names() const {
    std::vector<std::string> names;
    for (const auto& [name, block] : blocks_) names.push_back(name);
    return names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "));
}

// Included blocks come first, so a file's own definitions can use them.
void BlockLibrary::add_file(const SourceFilePtr& file, const Mapping& top, std::vector<fs::path>& chain) {
    if (const YAML::Node* include = top.get("include")) include_all(*file, *include, chain);
    const YAML::Node* blocks = top.get("blocks");
    if (!blocks) return;
    const Mapping definitions(*file, *blocks, "blocks");
    for (const Entry& entry : definitions.entries()) add_block(file, entry);
}

void BlockLibrary::include_all(const SourceFile& from, const YAML::Node& include, std::vector<fs::path>& chain) {
    if (include.IsScalar()) return include_one(from, include, chain);
    for (const YAML::Node& item : require_sequence(from, include, "include (a file or a list of files)"))
        include_one(from, item, chain);
}

void BlockLibrary::include_one(const SourceFile& from, const YAML::Node& item, std::vector<fs::path>& chain) {
    if (!item.IsScalar()) fail_at(from, item, "expected a file name to include");
    const fs::path path = find_include(from, item);
    const fs::path canonical = canonical_path(path);
    if (std::find(chain.begin(), chain.end(), canonical) != chain.end()) {
        std::vector<std::string> cycle;
        for (const fs::path& link : chain) cycle.push_back(link.filename().string());
        cycle.push_back(canonical.filename().string());
        fail_at(from, item, fmt::format("cyclic include: {}", fmt::join(cycle, " -> ")));
    }
    if (chain.size() >= kMaxIncludeDepth)
        fail_at(from, item, fmt::format("includes nested deeper than {}", kMaxIncludeDepth));
    if (!included_.insert(canonical).second) return;  // shared by two includers: read once
    SourceFilePtr file = load_source(path, path.string());
    const Mapping top(*file, file->root, "an included file");
    top.allow_only({"doc", "include", "blocks"}, "an included block library");
    chain.push_back(canonical);
    add_file(file, top, chain);
    chain.pop_back();
}

void BlockLibrary::add_block(const SourceFilePtr& file, const Entry& entry) {
    require_identifier(*file, entry.key_node, entry.key, "block name");
    if (const BlockDef* existing = find(entry.key))
        fail_at(*file, entry.key_node, fmt::format("block '{}' is already defined at {}", entry.key,
                                                   location_of(*existing->file, existing->node).str()));
    const Mapping mapping(*file, entry.value, fmt::format("block '{}'", entry.key));
    mapping.allow_only({"doc", "args", "body", "output"}, fmt::format("block '{}'", entry.key));
    BlockDef block{entry.key, file, entry.key_node, {}, {}, {}};
    if (const YAML::Node* args = mapping.get("args")) block.args = read_args(*file, *args, entry.key);
    block.body = require_sequence(*file, mapping.require("body", "a block"), "a block's body");
    if (const YAML::Node* output = mapping.get("output")) block.output = *output;
    blocks_.emplace(entry.key, std::move(block));
}

}  // namespace weft::graph_file
