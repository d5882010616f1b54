#include "tiny_cifar.h"

#include <fstream>
#include <random>
#include <string>

namespace weft::testing {

std::filesystem::path write_tiny_cifar10(const std::filesystem::path& dir, const TinyCifar& shape) {
    std::filesystem::create_directories(dir);
    std::mt19937 rng(shape.seed);
    const auto write = [&](const std::string& name) {
        std::ofstream out(dir / name, std::ios::binary);
        for (int i = 0; i < shape.per_file; ++i) {
            const int label = static_cast<int>(rng() % 10);
            out.put(static_cast<char>(label));
            for (int k = 0; k < 3072; ++k)
                out.put(static_cast<char>((label * shape.brightness + static_cast<int>(rng() % shape.noise)) & 0xff));
        }
    };
    for (int b = 1; b <= 5; ++b) write("data_batch_" + std::to_string(b) + ".bin");
    write("test_batch.bin");
    return dir;
}

}  // namespace weft::testing
