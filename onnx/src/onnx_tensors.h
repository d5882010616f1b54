// Between weft tensors and ONNX TensorProtos, with every size checked: a TensorProto comes from an
// untrusted file, so its dims, its data type, where its data lives and how many bytes it holds are
// all verified before a byte is copied.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>  // defines ONNX_API, then includes onnx-ml.pb.h

#include "weft/tensor.h"

namespace weft::onnx_format {

// Largest single dimension accepted from a file (a guard against absurd sizes, well above any
// network's); the element count is checked against overflow and the bytes present as well.
inline constexpr std::int64_t kMaxDimension = std::int64_t{1} << 31;

// dims of a TensorProto or a tensor type, each checked to lie in [1, kMaxDimension]; `where`
// names the tensor in errors.
Shape checked_dims(const google::protobuf::RepeatedField<std::int64_t>& dims, const std::string& where);

// A float tensor (weights) from an initialiser or a Constant: float_data or raw_data (little
// endian), whose size must equal the dims' element count; external data is refused.
Tensor float_tensor(const onnx::TensorProto& proto, const std::string& where);
// An int64 tensor's values (Reshape shapes), checked the same way.
std::vector<std::int64_t> int64_values(const onnx::TensorProto& proto, const std::string& where);

void fill_float_proto(onnx::TensorProto& proto, const std::string& name, const Tensor& tensor);
void fill_int64_proto(onnx::TensorProto& proto, const std::string& name,
                      const std::vector<std::int64_t>& values);

}  // namespace weft::onnx_format
