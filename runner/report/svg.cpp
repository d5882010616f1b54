#include "svg.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <fmt/format.h>

#include "text.h"

namespace weft::report {

std::string svg_number(double value) {
    if (!std::isfinite(value)) return "0";
    std::string text = fmt::format("{:.1f}", value);
    if (text.ends_with(".0")) text.resize(text.size() - 2);
    return text == "-0" ? "0" : text;
}

std::string svg_text(double x, double y, std::string_view content, std::string_view attributes) {
    return fmt::format("<text x=\"{}\" y=\"{}\"{}{}>{}</text>\n", svg_number(x), svg_number(y),
                       attributes.empty() ? "" : " ", attributes, xml_escape(content));
}

std::string svg_document(int width, int height, std::string_view title, std::string_view body) {
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out += fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{0}\" height=\"{1}\" "
        "viewBox=\"0 0 {0} {1}\" font-family=\"{2}\">\n",
        width, height, kFontFamily);
    out += fmt::format("<title>{}</title>\n", xml_escape(title));
    out += fmt::format("<rect width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>\n", width, height);
    out += body;
    out += "</svg>\n";
    return out;
}

std::string sequential_blue(double t) {
    static constexpr std::array<std::array<int, 3>, 9> stops = {{{0xf7, 0xfb, 0xff},
                                                                 {0xde, 0xeb, 0xf7},
                                                                 {0xc6, 0xdb, 0xef},
                                                                 {0x9e, 0xca, 0xe1},
                                                                 {0x6b, 0xae, 0xd6},
                                                                 {0x42, 0x92, 0xc6},
                                                                 {0x21, 0x71, 0xb5},
                                                                 {0x08, 0x51, 0x9c},
                                                                 {0x08, 0x30, 0x6b}}};
    const double position = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * (stops.size() - 1);
    const auto i = std::min<std::size_t>(static_cast<std::size_t>(position), stops.size() - 2);
    const double f = position - static_cast<double>(i);
    int rgb[3];
    for (int c = 0; c < 3; ++c) rgb[c] = static_cast<int>(std::lround(stops[i][c] + f * (stops[i + 1][c] - stops[i][c])));
    return fmt::format("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
}

std::string svg_id(std::string_view prefix, std::string_view key) {
    std::uint32_t hash = 2166136261u;  // FNV-1a
    for (char c : key) hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
    return fmt::format("{}-{:08x}", prefix, hash);
}

}  // namespace weft::report
