// Plugins are strangers' code: they may throw anything, not only std::exception (`throw 42;`).
// Every place core calls into a plugin catches whatever comes out and turns it into one line
// that names the plugin and the node; this is how that line says what was thrown.
#pragma once

#include <string>

namespace weft::detail {

// Inside a catch block: the message of the exception being handled, or for one that is not a
// std::exception, its type ("an exception of type 'int', not a std::exception").
std::string current_exception_text();

}  // namespace weft::detail
