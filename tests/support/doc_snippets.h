// The code a page of the documentation shows, as a reader would type it in, so that a test can
// build and run exactly that. A page marks a fenced block with an HTML comment on the line before:
//   <!-- file: NAME -->       the block is the file NAME
//   <!-- append: NAME -->     the block is added to the end of NAME
//   <!-- output of: ARGS -->  the block is what `weft ARGS` prints
#pragma once

#include <map>
#include <string>
#include <vector>

namespace weft::testing {

struct DocSnippets {
    std::map<std::string, std::string> files;  // name -> content
    struct Output {
        std::string args;
        std::string text;
    };
    std::vector<Output> outputs;
};

// Throws std::runtime_error naming the line of a marker not followed by a fenced block.
DocSnippets read_doc_snippets(const std::string& markdown);

}  // namespace weft::testing
