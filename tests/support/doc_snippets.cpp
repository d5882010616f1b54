#include "doc_snippets.h"

#include <sstream>
#include <stdexcept>

namespace weft::testing {
namespace {

// ARGUMENT when `line` is `<!-- word: ARGUMENT -->`, else empty.
std::string marker_argument(const std::string& line, const std::string& word) {
    const std::string open = "<!-- " + word + ": ", close = " -->";
    if (line.rfind(open, 0) != 0 || line.size() < open.size() + close.size() ||
        line.compare(line.size() - close.size(), close.size(), close) != 0)
        return {};
    return line.substr(open.size(), line.size() - open.size() - close.size());
}

// The fenced block starting at the next line of `in`, without its fences.
std::string fenced_block(std::istream& in, int& line_number) {
    std::string line, block;
    ++line_number;
    if (!std::getline(in, line) || line.rfind("```", 0) != 0)
        throw std::runtime_error("line " + std::to_string(line_number) + ": a snippet marker not followed by ```");
    while (std::getline(in, line)) {
        ++line_number;
        if (line == "```") return block;
        block += line + "\n";
    }
    throw std::runtime_error("line " + std::to_string(line_number) + ": a fenced block that never ends");
}

}  // namespace

DocSnippets read_doc_snippets(const std::string& markdown) {
    DocSnippets snippets;
    std::istringstream in(markdown);
    int line_number = 0;
    for (std::string line; std::getline(in, line);) {
        ++line_number;
        if (const std::string name = marker_argument(line, "file"); !name.empty())
            snippets.files[name] = fenced_block(in, line_number);
        else if (const std::string name = marker_argument(line, "append"); !name.empty())
            snippets.files[name] += fenced_block(in, line_number);
        else if (const std::string args = marker_argument(line, "output of"); !args.empty())
            snippets.outputs.push_back({args, fenced_block(in, line_number)});
    }
    return snippets;
}

}  // namespace weft::testing
