#include "finite_values.h"

#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace weft::detail {

std::optional<std::int64_t> first_non_finite(const float* values, std::int64_t count) {
    for (std::int64_t i = 0; i < count; ++i)
        if (!std::isfinite(values[i])) return i;
    return std::nullopt;
}

std::string describe_element(const Shape& shape, std::int64_t index, float value) {
    Shape position(shape.size(), 0);
    for (std::size_t d = shape.size(); d-- > 0 && shape[d] > 0;) {
        position[d] = index % shape[d];
        index /= shape[d];
    }
    return fmt::format("element [{}] is {}", fmt::join(position, ", "), value);
}

}  // namespace weft::detail
