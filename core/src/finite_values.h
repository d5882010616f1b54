// Finding NaN and infinity in f32 data, and saying where, for the places core refuses them:
// weights at load, inputs read from files, and each node's outputs under --check-numerics.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "weft/tensor.h"

namespace weft::detail {

// The index of the first NaN or infinity among `count` floats; nullopt when all are finite.
std::optional<std::int64_t> first_non_finite(const float* values, std::int64_t count);

// "element [0, 3, 1, 2] is nan": the row-major position of flat `index` in `shape` and the value.
std::string describe_element(const Shape& shape, std::int64_t index, float value);

}  // namespace weft::detail
