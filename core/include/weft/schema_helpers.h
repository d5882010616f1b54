// Small builders for operator schemas, so every plugin spells attributes, parameters and
// multiply-add counts the same way. Header-only: part of the plugin SDK.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "weft/attributes.h"
#include "weft/checked_arithmetic.h"
#include "weft/error.h"
#include "weft/op_schema.h"
#include "weft/tensor.h"

namespace weft::schema {

// An attribute spec; `default_value` nullopt makes it required, `min` bounds numbers from below.
inline AttrSpec attribute(std::string name, AttrType type, std::optional<AttrValue> default_value,
                          std::string doc, std::optional<double> min = std::nullopt) {
    AttrSpec spec;
    spec.name = std::move(name);
    spec.type = type;
    spec.default_value = std::move(default_value);
    spec.doc = std::move(doc);
    spec.min = min;
    return spec;
}

// A learnable f32 parameter counted in the paper's #params (conv and FC weights and biases).
inline ParamSpec parameter(std::string name, Shape shape, ParamInit init, std::int64_t fan_in) {
    ParamSpec spec;
    spec.name = std::move(name);
    spec.desc = TensorDesc{DType::f32, std::move(shape), Layout::row_major};
    spec.init = init;
    spec.fan_in = fan_in;
    return spec;
}

}  // namespace weft::schema
