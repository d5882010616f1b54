// Work done in a forked child process, for third-party renderers (Graphviz's layout, librsvg)
// whose crashes, leaks and global state must not reach the program that asked for a picture.
#pragma once

#include <functional>
#include <string>

namespace weft::report {

// Runs `work` in a forked child and returns the bytes it returned. An exception thrown by `work`
// becomes a weft::Error here with the same message. A child that crashes or returns nothing is
// a weft::Error whose message `on_crash` writes from how the child ended ("signal Segmentation
// fault", "no output"). The child leaves with _exit, so nothing it allocated needs freeing.
std::string run_in_child_process(const std::function<std::string()>& work,
                                 const std::function<std::string(const std::string& how_it_ended)>& on_crash);

}  // namespace weft::report
