// NumPy .npy files (format version 1.0/2.0, little-endian float32, C order) for inputs and
// outputs at the command line, so arrays move to and from Python unchanged.
#pragma once

#include <filesystem>

#include "weft/tensor.h"

namespace weft {

Tensor load_npy(const std::filesystem::path& path);
void save_npy(const std::filesystem::path& path, const Tensor& tensor);

}  // namespace weft
