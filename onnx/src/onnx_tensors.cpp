#include "onnx_tensors.h"

#include <cstring>

#include <fmt/format.h>

#include "weft/checked_arithmetic.h"
#include "weft/error.h"

namespace weft::onnx_format {

Shape checked_dims(const google::protobuf::RepeatedField<std::int64_t>& dims, const std::string& where) {
    Shape shape;
    for (std::int64_t d : dims) {
        if (d < 1 || d > kMaxDimension)
            throw Error(fmt::format("{}: dimension {} is outside [1, {}]", where, d, kMaxDimension));
        shape.push_back(d);
    }
    return shape;
}

namespace {

void refuse_external_data(const onnx::TensorProto& proto, const std::string& where) {
    if (proto.data_location() == onnx::TensorProto::EXTERNAL || proto.external_data_size() > 0)
        throw Error(
            fmt::format("{}: its data is in an external file; weft reads only self-contained "
                        "ONNX files",
                        where));
}

// Element count of the dims, refusing an overflow (shape_numel checks it).
std::int64_t element_count(const Shape& shape) {
    return shape_numel(shape);
}

}  // namespace

Tensor float_tensor(const onnx::TensorProto& proto, const std::string& where) {
    refuse_external_data(proto, where);
    if (proto.data_type() != onnx::TensorProto::FLOAT)
        throw Error(fmt::format("{}: data type {} where weft expects float32 (1)", where, proto.data_type()));
    const Shape shape = checked_dims(proto.dims(), where);
    const std::int64_t n = element_count(shape);
    const std::size_t bytes = static_cast<std::size_t>(n) * sizeof(float);
    if (proto.has_raw_data()) {
        if (proto.raw_data().size() != bytes)
            throw Error(fmt::format("{}: raw_data holds {} bytes, its dims {} need {}", where,
                                    proto.raw_data().size(), TensorDesc{DType::f32, shape}.str(), bytes));
    } else if (proto.float_data_size() != n) {
        throw Error(fmt::format("{}: float_data holds {} values, its dims need {}", where,
                                proto.float_data_size(), n));
    }
    Tensor tensor(TensorDesc{DType::f32, shape});
    // Tensors are little endian in ONNX as on every host weft builds for.
    if (proto.has_raw_data())
        std::memcpy(tensor.data(), proto.raw_data().data(), bytes);
    else
        std::memcpy(tensor.data(), proto.float_data().data(), bytes);
    return tensor;
}

std::vector<std::int64_t> int64_values(const onnx::TensorProto& proto, const std::string& where) {
    refuse_external_data(proto, where);
    if (proto.data_type() != onnx::TensorProto::INT64)
        throw Error(fmt::format("{}: data type {} where weft expects int64 (7)", where, proto.data_type()));
    if (proto.dims_size() > 1)
        throw Error(fmt::format("{}: expected a list of integers (rank 0 or 1)", where));
    const std::int64_t n = element_count(checked_dims(proto.dims(), where));
    if (n > 64) throw Error(fmt::format("{}: {} values where a shape of at most 64 was expected", where, n));
    std::vector<std::int64_t> values(static_cast<std::size_t>(n));
    if (proto.has_raw_data()) {
        if (proto.raw_data().size() != values.size() * sizeof(std::int64_t))
            throw Error(fmt::format("{}: raw_data holds {} bytes, its dims need {}", where,
                                    proto.raw_data().size(), values.size() * sizeof(std::int64_t)));
        std::memcpy(values.data(), proto.raw_data().data(), proto.raw_data().size());
    } else {
        if (proto.int64_data_size() != n)
            throw Error(fmt::format("{}: int64_data holds {} values, its dims need {}", where,
                                    proto.int64_data_size(), n));
        for (int i = 0; i < proto.int64_data_size(); ++i)
            values[static_cast<std::size_t>(i)] = proto.int64_data(i);
    }
    return values;
}

void fill_float_proto(onnx::TensorProto& proto, const std::string& name, const Tensor& tensor) {
    if (tensor.desc().dtype != DType::f32)
        throw Error(fmt::format("weight '{}': {} is not float32, the only type weft exports", name,
                                tensor.desc().str()));
    proto.set_name(name);
    proto.set_data_type(onnx::TensorProto::FLOAT);
    for (std::int64_t d : tensor.shape()) proto.add_dims(d);
    proto.set_raw_data(tensor.data(), tensor.bytes());
}

void fill_int64_proto(onnx::TensorProto& proto, const std::string& name,
                      const std::vector<std::int64_t>& values) {
    proto.set_name(name);
    proto.set_data_type(onnx::TensorProto::INT64);
    proto.add_dims(static_cast<std::int64_t>(values.size()));
    proto.set_raw_data(values.data(), values.size() * sizeof(std::int64_t));
}

}  // namespace weft::onnx_format
