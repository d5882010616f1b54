// Throughput of the streamed (ImageNet-style) pipeline on a folder of JPEGs: decoding alone, and
// whole training and evaluation samples (decode, crop, resize, flip, normalise) with and without
// the scaled JPEG decode, on one thread and on several. Writes an ImageNet-sized folder first when
// the one given is empty or missing (train/ and val/ of seven classes, so it also serves as a tree
// to try `weft train --data imagenet:DIR` on). Not a test: docs/performance.md has its numbers.
//
//   loader_bench DIR [--images N] [--workers W] [--size S]
#include "image_files.h"

#include <weft/datasets/dataset.h>
#include <weft/datasets/image.h>
#include <weft/datasets/loader.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include <sys/resource.h>

namespace fs = std::filesystem;
using namespace weft::datasets;

namespace {

// Photographs are neither flat nor noise: smooth shading plus fine texture gives JPEG files of
// about ImageNet's bytes per pixel at quality 90.
void write_folder(const fs::path& dir, int images) {
    std::mt19937 random(1);
    std::uniform_int_distribution<int> width(300, 640), height(240, 500), noise(-24, 24);
    for (int i = 0; i < images; ++i) {
        const int w = width(random), h = height(random);
        weft::datasets::testing::Bytes rgb(std::size_t(w) * h * 3);
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x)
                for (int c = 0; c < 3; ++c) {
                    const int base = 128 + int(90 * std::sin((x * (c + 1) + y * (3 - c)) * 0.013 + i));
                    rgb[(std::size_t(y) * w + x) * 3 + c] = std::uint8_t(std::clamp(base + noise(random), 0, 255));
                }
        // Every tenth image goes to val/, so that the folder is a whole tree to train on.
        const char* split = i % 10 == 9 ? "val" : "train";
        weft::datasets::testing::write_jpeg(
            dir / split / fmt::format("class{:02}", i % 7) / fmt::format("{:06}.jpg", i), w, h, 3, rgb, 90);
        if ((i + 1) % 100 == 0) fmt::print(stderr, "\rwriting {} images: {}", images, i + 1);
    }
    fmt::print(stderr, "\n");
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// CPU seconds of every thread of this process: on a shared machine the images per CPU second is
// the throughput of a core, where the wall clock also counts the time other processes had it.
double cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           1e-6 * double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

struct Rate {
    double per_second = 0, per_cpu_second = 0;
};

// Images per second through the loader, one epoch, and per CPU second.
Rate loader_rate(const Dataset& data, const Augmentation& augment, int workers) {
    LoaderOptions options;
    options.batch = 32;
    options.shuffle = true;
    options.workers = workers;
    options.prefetch = std::max(3, workers);
    options.augment = augment;
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_seconds();
    std::int64_t seen = 0;
    {
        BatchLoader loader(data, options, 0);
        weft::Tensor images, labels;
        std::int64_t count = 0;
        while (loader.next(images, labels, count)) seen += count;
    }
    return {double(seen) / seconds_since(start), double(seen) / (cpu_seconds() - cpu_start)};
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        fmt::print(stderr, "usage: loader_bench DIR [--images N] [--workers W] [--size S]\n");
        return 2;
    }
    const fs::path dir = argv[1];
    int images = 1000, workers = static_cast<int>(std::thread::hardware_concurrency()), size = 224;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const int value = std::atoi(argv[i + 1]);
        if (flag == "--images") images = value;
        else if (flag == "--workers") workers = value;
        else if (flag == "--size") size = value;
        else {
            fmt::print(stderr, "loader_bench: unknown option {}\n", flag);
            return 2;
        }
    }
    std::error_code ec;
    if (!fs::exists(dir / "train", ec)) write_folder(dir, images);
    Dataset data = load_dataset("imagenet:" + dir.string(), Split::train);
    take_input_size(data, size, size);
    std::uintmax_t bytes = 0;
    std::int64_t pixels = 0;
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_seconds();
    for (const fs::path& file : data.files) {
        bytes += fs::file_size(file);
        const Image image = read_image(file);
        pixels += image.height * image.width;
    }
    const double decode = double(data.size()) / seconds_since(start);
    const double decode_cpu = double(data.size()) / (cpu_seconds() - cpu_start);
    fmt::print("{} JPEGs, {:.0f} KB and {:.0f}x{:.0f}-sized on average; output {}x{}; {} hardware threads\n",
               data.size(), double(bytes) / 1024 / double(data.size()), std::sqrt(double(pixels) / double(data.size())),
               std::sqrt(double(pixels) / double(data.size())), size, size, std::thread::hardware_concurrency());
    fmt::print("| what | threads | images/s | images per CPU second (per core) |\n| --- | ---: | ---: | ---: |\n");
    fmt::print("| decode every pixel, nothing else | 1 | {:.0f} | {:.0f} |\n", decode, decode_cpu);
    Augmentation train;
    train.random_resized_crop = true;
    train.horizontal_flip = true;
    Augmentation evaluation;
    for (const auto& [name, augment] : {std::pair{"training sample (random-resized crop, flip)", train},
                                        std::pair{"evaluation sample (resize, centre crop)", evaluation}})
        for (int decode = 0; decode < 3; ++decode)
            for (int threads : {1, workers}) {
                static const char* const decodes[] = {"every pixel decoded", "scaled JPEG decode",
                                                      "scaled decode of the crop's part"};
                Augmentation a = augment;
                a.scaled_decode = decode >= 1;
                a.partial_decode = decode == 2;
                const Rate rate = loader_rate(data, a, threads);
                fmt::print("| {}, {} | {} | {:.0f} | {:.0f} |\n", name, decodes[decode], threads, rate.per_second,
                           rate.per_cpu_second);
            }
    return 0;
}
