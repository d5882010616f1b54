#include "palette.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <map>

#include <fmt/format.h>

namespace weft::viz {

std::string rgb_hex(double r, double g, double b) {
    const auto byte = [](double c) { return static_cast<int>(std::lround(std::clamp(c, 0.0, 1.0) * 255)); };
    return fmt::format("#{:02x}{:02x}{:02x}", byte(r), byte(g), byte(b));
}

namespace {

std::string hsl(double h, double s, double l) {
    // h in degrees; the standard HSL to RGB conversion.
    const double c = (1 - std::abs(2 * l - 1)) * s;
    const double hp = std::fmod(h, 360.0) / 60.0;
    const double x = c * (1 - std::abs(std::fmod(hp, 2.0) - 1));
    double r = 0, g = 0, b = 0;
    if (hp < 1) r = c, g = x;
    else if (hp < 2) r = x, g = c;
    else if (hp < 3) g = c, b = x;
    else if (hp < 4) g = x, b = c;
    else if (hp < 5) r = x, b = c;
    else r = c, b = x;
    const double m = l - c / 2;
    return rgb_hex(r + m, g + m, b + m);
}

std::uint32_t fnv1a(std::string_view s) {
    std::uint32_t h = 2166136261u;
    for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
    return h;
}

Swatch hashed(std::string_view name) {
    const double hue = (fnv1a(name) % 360);
    return {hsl(hue, 0.75, 0.92), hsl(hue, 0.55, 0.40)};
}

}  // namespace

Swatch op_swatch(std::string_view op) {
    static const std::map<std::string_view, Swatch> known = {
        {"group_conv", {"#dbeafe", "#2563eb"}},      {"pointwise_conv", {"#d1fae5", "#059669"}},
        {"channel_permute", {"#fef3c7", "#d97706"}}, {"batch_norm", {"#ede9fe", "#7c3aed"}},
        {"relu", {"#f3f4f6", "#6b7280"}},            {"add", {"#fce7f3", "#db2777"}},
        {"pool", {"#cffafe", "#0891b2"}},            {"fc", {"#ffedd5", "#ea580c"}},
        {"softmax", {"#fae8ff", "#a21caf"}},
    };
    const auto it = known.find(op);
    return it != known.end() ? it->second : hashed(op);
}

Swatch block_swatch(std::string_view block) {
    static const std::map<std::string_view, Swatch> known = {
        {"igc_block", {"#e0e7ff", "#4338ca"}},
        {"conv_bn_relu", {"#dbeafe", "#2563eb"}},
        {"classifier", {"#ffedd5", "#ea580c"}},
    };
    if (block.empty()) return {"#f1f5f9", "#475569"};  // a plain group (a repeat)
    const auto it = known.find(block);
    return it != known.end() ? it->second : hashed(block);
}

Swatch heat_swatch(double t) {
    // ColorBrewer YlOrRd, interpolated in RGB between its five stops.
    static const std::array<std::array<double, 3>, 5> stops = {{{1.00, 1.00, 0.80},
                                                                {0.996, 0.851, 0.463},
                                                                {0.992, 0.553, 0.235},
                                                                {0.890, 0.102, 0.110},
                                                                {0.502, 0.000, 0.149}}};
    t = std::clamp(t, 0.0, 1.0);
    const double x = t * (stops.size() - 1);
    const std::size_t i = std::min<std::size_t>(static_cast<std::size_t>(x), stops.size() - 2);
    const double f = x - double(i);
    std::array<double, 3> c{};
    for (int k = 0; k < 3; ++k) c[k] = stops[i][k] * (1 - f) + stops[i + 1][k] * f;
    Swatch s{rgb_hex(c[0], c[1], c[2]), rgb_hex(c[0] * 0.6, c[1] * 0.6, c[2] * 0.6)};
    if (t > 0.62) s.text = "#ffffff";
    return s;
}

std::string partition_colour(int k, int n, double lightness) {
    // Neighbouring partitions alternate in lightness so that they stay apart even when n is
    // large and their hues are close.
    const double hue = n > 0 ? 360.0 * k / n : 0;
    const double l = n > 8 && k % 2 == 1 ? lightness + 0.12 : lightness;
    return hsl(hue, 0.70, std::min(l, 0.92));
}

}  // namespace weft::viz
