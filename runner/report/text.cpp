#include "text.h"

#include <algorithm>

namespace weft::report {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one (RFC 3629:
// no overlong forms, no surrogates, nothing above U+10FFFF).
std::size_t sequence_length(std::string_view s, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char b0 = byte(i);
    if (b0 < 0x80) return 1;
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) n = 2;
    else if (b0 >= 0xE0 && b0 <= 0xEF) n = 3, lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;
    else if (b0 >= 0xF0 && b0 <= 0xF4) n = 4, lo = b0 == 0xF0 ? 0x90 : 0x80, hi = b0 == 0xF4 ? 0x8F : 0xBF;
    else return 0;
    if (i + n > s.size()) return 0;
    if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
    for (std::size_t k = 2; k < n; ++k)
        if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
    return n;
}

template <typename Visit>
void for_each_character(std::string_view s, Visit visit) {
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = sequence_length(s, i);
        if (!visit(s.substr(i, std::max<std::size_t>(n, 1)), n != 0)) return;
        i += std::max<std::size_t>(n, 1);
    }
}

}  // namespace

int column_count(std::string_view utf8) {
    int count = 0;
    for_each_character(utf8, [&](std::string_view, bool) { return ++count, true; });
    return count;
}

std::string clip_columns(std::string_view utf8, int columns) {
    std::string out;
    int count = 0;
    for_each_character(utf8, [&](std::string_view c, bool) {
        if (count++ >= columns) return false;
        out += c;
        return true;
    });
    return out;
}

std::string shorten(std::string_view utf8, int columns) {
    if (column_count(utf8) <= columns) return std::string(utf8);
    return clip_columns(utf8, std::max(0, columns - 1)) + "\u2026";
}

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for_each_character(text, [&](std::string_view c, bool valid) {
        const unsigned char b = static_cast<unsigned char>(c[0]);
        // U+FFFE and U+FFFF are the two non-characters XML 1.0 excludes from Char.
        const bool non_character = c == "\xEF\xBF\xBE" || c == "\xEF\xBF\xBF";
        if (!valid || non_character || (b < 0x20 && b != '\t' && b != '\n' && b != '\r')) out += '?';
        else if (c == "&") out += "&amp;";
        else if (c == "<") out += "&lt;";
        else if (c == ">") out += "&gt;";
        else if (c == "\"") out += "&quot;";
        else if (c == "'") out += "&apos;";
        else out += c;
        return true;
    });
    return out;
}

}  // namespace weft::report
