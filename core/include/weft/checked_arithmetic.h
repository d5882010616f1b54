// 64-bit arithmetic that refuses to wrap. Shape rules multiply and add numbers that come straight
// from graph files (padding: 9223372036854775807 is valid YAML); a wrapped result is a silently
// wrong shape, so every schema — weft's and a plugin's — computes through these and gets an error
// naming what overflowed instead. Header-only: part of the plugin SDK.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "weft/error.h"

namespace weft {

// a + b; throws "<what> overflows 64-bit arithmetic" rather than wrapping.
inline std::int64_t checked_add(std::int64_t a, std::int64_t b, std::string_view what) {
    std::int64_t sum = 0;
    if (__builtin_add_overflow(a, b, &sum)) throw Error(std::string(what) + " overflows 64-bit arithmetic");
    return sum;
}

// a · b; throws like checked_add.
inline std::int64_t checked_mul(std::int64_t a, std::int64_t b, std::string_view what) {
    std::int64_t product = 0;
    if (__builtin_mul_overflow(a, b, &product)) throw Error(std::string(what) + " overflows 64-bit arithmetic");
    return product;
}

// a + b for byte counts (buffers placed one after another in an arena, parameters in one block);
// throws like checked_add rather than wrapping around to a small, wrong size.
inline std::size_t checked_add_bytes(std::size_t a, std::size_t b, std::string_view what) {
    std::size_t sum = 0;
    if (__builtin_add_overflow(a, b, &sum)) throw Error(std::string(what) + " overflows 64-bit arithmetic");
    return sum;
}

// The product of `factors` (multiply-add counts, fan-ins, element counts).
inline std::int64_t checked_product(std::initializer_list<std::int64_t> factors,
                                    std::string_view what = "the multiply-add count") {
    std::int64_t product = 1;
    for (std::int64_t factor : factors) product = checked_mul(product, factor, what);
    return product;
}

}  // namespace weft
