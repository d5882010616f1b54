// What `weft run` feeds a graph from a file: a .npy array or a PNG/JPEG picture, converted to the
// float32 NCHW images the graph takes, with every conversion it made written down so the run can
// say what it did to the data.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "weft/tensor.h"
#include "weft/training/model.h"

namespace weft::runner {

// How a .npy file's image dimensions are ordered. `detect`: NHWC when the last dimension is the
// graph's channel count and the first image dimension is not, NCHW otherwise.
enum class InputLayout { detect, nchw, nhwc };
InputLayout parse_input_layout(std::string_view name);  // "detect", "nchw", "nhwc"

struct RunInput {
    Tensor images;                         // f32 [N, C, H, W] (or [N, ...] for other inputs)
    std::vector<std::string> conversions;  // each step, in order ("float64 narrowed to float32", ...)
};

bool is_image_file(const std::string& path);  // .png, .jpg, .jpeg, any case

// A .npy array of one sample or a batch of them, for a graph whose input is `sample_shape`
// without its batch dimension: float32 used as given, float64 narrowed to float32. For images
// ([C, H, W]) also uint8 pixels, normalised as the weights were trained (`info`'s mean and std;
// without them only scaled to [0, 1]), and NHWC, transposed to NCHW. A shape that fits in
// neither layout, or another element type, is a weft::Error naming the file.
RunInput read_npy_input(const std::string& path, const Shape& sample_shape, InputLayout layout,
                        const training::ModelInfo& info);

// A PNG or JPEG as one normalised image, like uint8 .npy input.
RunInput read_picture_input(const std::string& path, const Shape& image_shape, const training::ModelInfo& info);

}  // namespace weft::runner
