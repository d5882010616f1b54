// Reading an ONNX file: only a regular file, its size bounded before a byte is parsed.
#include "weft/input_file.h"
#include "weft/onnx/onnx_model.h"

namespace weft::onnx_format {

bool is_onnx_path(std::string_view spec) {
    return spec.size() > 5 && spec.substr(spec.size() - 5) == ".onnx";
}

OnnxModel read_onnx(const std::filesystem::path& path, const Registry& registry) {
    return parse_onnx(read_whole_file(path, kMaxOnnxFileBytes, "an ONNX model"), path.string(), registry);
}

}  // namespace weft::onnx_format
