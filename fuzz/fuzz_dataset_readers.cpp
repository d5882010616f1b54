// The dataset readers on hostile files. The first byte picks the format, the rest is the file(s):
//   0 CIFAR-10 test_batch.bin     1 CIFAR-100 test.bin
//   2 IDX images + labels, as given (raw, or gzip/xz when the bytes start with their magic)
//   3 IDX images + labels, gzip-compressed by the harness (the decoder sees well-formed gzip of
//     hostile content, which mutation of a gzip seed rarely produces)
//   4 one image (PNG or JPEG, told apart by content)
//   5 one streamed sample of an image: the next byte's bits choose the random-resized crop, the
//     scaled and the partial JPEG decode and the flip, the one after it the seed; the image is
//     made 24x24 (crop boxes, decode plans and resampling on hostile sizes)
// IDX takes two files: bytes 1-2 (little-endian) are the length of the images file, the rest is
// the labels file. weft::Error is the only accepted failure.
#include <zlib.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "readers.h"
#include "streamed_sample.h"
#include "weft/datasets/image.h"
#include "weft/error.h"

namespace {
namespace fs = std::filesystem;
using weft::datasets::Split;

enum Format : std::uint8_t { cifar10, cifar100, idx, idx_gzip, image, streamed_sample, format_count };

// One subdirectory per format, holding only the files its reader looks for.
fs::path format_directory(Format format) {
    fs::path dir = weft::fuzz::scratch_directory() / std::to_string(format);
    fs::create_directories(dir);
    return dir;
}

void write_gzip(const fs::path& path, const std::uint8_t* data, std::size_t size) {
    gzFile out = gzopen(path.c_str(), "wb");
    if (!out) throw std::runtime_error("cannot write " + path.string());
    const bool ok = size == 0 || gzwrite(out, data, static_cast<unsigned>(size)) == static_cast<int>(size);
    if (gzclose(out) != Z_OK || !ok) throw std::runtime_error("cannot write " + path.string());
}

void fuzz_idx(const std::uint8_t* data, std::size_t size, bool compress) {
    if (size < 2) return;
    const std::size_t split = std::min<std::size_t>(size - 2, data[0] | std::size_t{data[1]} << 8);
    const std::uint8_t* images = data + 2;
    const std::uint8_t* labels = images + split;
    const std::size_t label_bytes = size - 2 - split;
    const fs::path dir = format_directory(compress ? idx_gzip : idx);
    auto write = compress ? write_gzip : weft::fuzz::write_bytes;
    write(dir / "t10k-images-idx3-ubyte", images, split);
    write(dir / "t10k-labels-idx1-ubyte", labels, label_bytes);
    weft::datasets::load_idx(dir, Split::test, "mnist", std::vector<std::string>(10, "class"));
}

void fuzz_one(Format format, const std::uint8_t* data, std::size_t size) {
    const fs::path dir = format_directory(format);
    switch (format) {
        case cifar10:
            weft::fuzz::write_bytes(dir / "test_batch.bin", data, size);
            weft::datasets::load_cifar10(dir, Split::test);
            return;
        case cifar100:
            weft::fuzz::write_bytes(dir / "test.bin", data, size);
            weft::datasets::load_cifar100(dir, Split::test);
            return;
        case idx:
        case idx_gzip:
            fuzz_idx(data, size, format == idx_gzip);
            return;
        case image:
            weft::fuzz::write_bytes(dir / "image", data, size);
            weft::datasets::read_image(dir / "image");
            return;
        case streamed_sample: {
            if (size < 2) return;
            weft::datasets::Augmentation augment;
            augment.random_resized_crop = data[0] & 1;
            augment.scaled_decode = data[0] & 2;
            augment.partial_decode = data[0] & 4;
            augment.horizontal_flip = data[0] & 8;
            std::uint64_t state = data[1];
            weft::fuzz::write_bytes(dir / "image", data + 2, size - 2);
            const float scale[3] = {1, 1, 1}, shift[3] = {0, 0, 0};
            std::vector<float> out(3 * 24 * 24);
            weft::datasets::make_streamed_sample(dir / "image", 24, 24, augment, state, scale, shift, out.data());
            return;
        }
        case format_count:
            return;
    }
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    try {
        fuzz_one(static_cast<Format>(data[0] % format_count), data + 1, size - 1);
    } catch (const weft::Error&) {
    }
    return 0;
}
