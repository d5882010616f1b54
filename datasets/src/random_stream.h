// The loader's random numbers: splitmix64 streams keyed by (seed, epoch, position in the epoch),
// so every sample's draws are fixed by where it sits in the epoch, whichever thread makes it and
// whether or not the epoch was resumed part-way.
#pragma once

#include <cstdint>

namespace weft::datasets {

// splitmix64: fast, fully specified, identical on every platform (std:: distributions are not).
inline std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// Every sample position gets its own stream, so a batch can be produced (or an epoch resumed)
// without replaying the draws of the samples before it.
inline std::uint64_t stream_state(std::uint64_t seed, std::uint64_t epoch, std::uint64_t position) {
    std::uint64_t state = seed;
    state = splitmix64(state) ^ epoch;
    state = splitmix64(state) ^ position;
    return splitmix64(state);
}

// The stream of an epoch's shuffle, apart from every sample position.
constexpr std::uint64_t shuffle_stream = ~std::uint64_t{0};

// A uniform integer in [0, n) by multiply-shift (Lemire), without modulo bias worth noticing.
inline std::uint64_t below(std::uint64_t random, std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(random) * n) >> 64);
}

// A uniform double in [0, 1) from the top 53 bits.
inline double unit_interval(std::uint64_t random) { return static_cast<double>(random >> 11) * 0x1.0p-53; }

}  // namespace weft::datasets
