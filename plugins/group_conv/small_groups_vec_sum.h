// The sum of a ymm register's 8 floats in a fixed tree order (the halves, then pairs, then the
// last two), for the vector types of small_groups_vec_avx2.h and small_groups_vec_avx512.h. Include
// only from those, after their target pragma; it sits in an unnamed namespace like them.
#pragma once

#include <immintrin.h>

namespace weft::small_groups {
namespace {

inline float sum_of_lanes(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));  // lanes k and k + 4
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));                                          // then k and k + 2
    s = _mm_add_ss(s, _mm_movehdup_ps(s));                                           // then 0 and 1
    return _mm_cvtss_f32(s);
}

}  // namespace
}  // namespace weft::small_groups
