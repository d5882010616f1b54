// Text handling shared by the progress line and the charts. Names arrive from user files in
// any encoding, so every function here tolerates invalid UTF-8 instead of trusting it.
#pragma once

#include <string>
#include <string_view>

namespace weft::report {

// Code points, as an estimate of terminal columns or glyphs (invalid bytes count one each).
int column_count(std::string_view utf8);
// The longest prefix of at most `columns` code points, never splitting a character.
std::string clip_columns(std::string_view utf8, int columns);
// As clip_columns, ending in an ellipsis when something was cut.
std::string shorten(std::string_view utf8, int columns);
// Text for XML content and attribute values: & < > " ' escaped; bytes that are not valid UTF-8
// and characters XML 1.0 forbids (control characters) become '?', so the document stays
// well-formed whatever a class name contains.
std::string xml_escape(std::string_view text);

}  // namespace weft::report
