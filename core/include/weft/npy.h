// NumPy .npy files (format version 1.0/2.0, little-endian, C order) for inputs and outputs at the
// command line, so arrays move to and from Python unchanged.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "weft/tensor.h"

namespace weft {

// float32 as it is, float64 narrowed to float32, uint8 as a u8 tensor. Refuses, naming the file:
// anything but a regular file; any other element type or a Fortran-ordered array; a header whose
// shape does not match the data bytes the file holds, or that `check_shape` (given the header's
// shape) throws for — both before anything is allocated; and NaN or infinite float values.
// `stored_type`, when given, receives the file's own element type ("float32", "float64",
// "uint8") for callers that say what they converted.
Tensor load_npy(const std::filesystem::path& path, std::string* stored_type = nullptr,
                const std::function<void(const Shape&)>& check_shape = {});
// Writes a float32 tensor (.npy version 1.0).
void save_npy(const std::filesystem::path& path, const Tensor& tensor);

}  // namespace weft
