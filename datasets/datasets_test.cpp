// The dataset library against files this test writes itself (CIFAR, IDX, PNG, JPEG, plain and
// compressed), and against the real data sets when they are installed.
#include <weft/datasets/dataset.h>
#include <weft/datasets/image.h>
#include <weft/datasets/loader.h>
#include <weft/error.h>

#include "image_files.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <jpeglib.h>
#include <lzma.h>
#include <png.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace weft::datasets;
using namespace weft::datasets::testing;

namespace {

// ---- writing test files ----

Bytes xz_compress(const Bytes& data) {
    Bytes out(lzma_stream_buffer_bound(data.size()));
    std::size_t size = 0;
    EXPECT_EQ(lzma_easy_buffer_encode(1, LZMA_CHECK_CRC64, nullptr, data.data(), data.size(), out.data(),
                                      &size, out.size()),
              LZMA_OK);
    out.resize(size);
    return out;
}

void write_gzip(const fs::path& file, const Bytes& data) {
    fs::create_directories(file.parent_path());
    gzFile gz = gzopen(file.c_str(), "wb");
    ASSERT_NE(gz, nullptr);
    ASSERT_EQ(gzwrite(gz, data.data(), static_cast<unsigned>(data.size())), static_cast<int>(data.size()));
    gzclose(gz);
}

Bytes gzip_bytes(const Bytes& data, TempDir& dir) {
    fs::path file = dir / "scratch.gz";
    write_gzip(file, data);
    Bytes bytes = read_bytes(file);
    fs::remove(file);
    return bytes;
}

// Image i of a synthetic set: distinct per image and per position, so any mix-up shows.
std::uint8_t synthetic_pixel(std::int64_t image, std::int64_t offset) {
    return static_cast<std::uint8_t>((image * 37 + offset * 11 + offset / 7) & 0xff);
}

// CIFAR records for images first..first+count-1; label_of(i) gives the (last) label byte.
Bytes cifar_records(int first, int count, int label_bytes, int classes) {
    Bytes bytes;
    for (int i = first; i < first + count; ++i) {
        if (label_bytes == 2) bytes.push_back(static_cast<std::uint8_t>(i % 20));
        bytes.push_back(static_cast<std::uint8_t>(i % classes));
        for (int k = 0; k < 3072; ++k) bytes.push_back(synthetic_pixel(i, k));
    }
    return bytes;
}

void put_be32(Bytes& bytes, std::uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<std::uint8_t>(value >> shift));
}

Bytes idx_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols) {
    Bytes bytes;
    put_be32(bytes, 0x00000803);
    put_be32(bytes, count);
    put_be32(bytes, rows);
    put_be32(bytes, cols);
    for (std::uint32_t i = 0; i < count; ++i)
        for (std::uint32_t k = 0; k < rows * cols; ++k) bytes.push_back(synthetic_pixel(i, k));
    return bytes;
}

Bytes idx_labels(std::uint32_t count) {
    Bytes bytes;
    put_be32(bytes, 0x00000801);
    put_be32(bytes, count);
    for (std::uint32_t i = 0; i < count; ++i) bytes.push_back(static_cast<std::uint8_t>((i * 3) % 10));
    return bytes;
}

fs::path write_cifar10(const TempDir& dir, bool compress) {
    fs::path root = dir / "cifar10";
    for (int b = 1; b <= 5; ++b) {
        Bytes records = cifar_records((b - 1) * 4, 4, 1, 10);
        if (compress && b % 2 == 1)
            write_file(root / fmt::format("data_batch_{}.bin.xz", b), xz_compress(records));
        else
            write_file(root / fmt::format("data_batch_{}.bin", b), records);
    }
    Bytes test = cifar_records(100, 3, 1, 10);
    write_file(root / (compress ? "test_batch.bin.xz" : "test_batch.bin"), compress ? xz_compress(test) : test);
    return root;
}

void expect_cifar_images(const Dataset& data, int first, int count, int classes) {
    ASSERT_EQ(data.size(), count);
    ASSERT_EQ(data.pixels.size(), static_cast<std::size_t>(count) * 3072);
    EXPECT_EQ(data.channels, 3);
    EXPECT_EQ(data.height, 32);
    EXPECT_EQ(data.width, 32);
    for (int i = 0; i < count; ++i) {
        EXPECT_EQ(data.labels[i], (first + i) % classes);
        int k = 0;
        while (k < 3072 && data.image(i)[k] == synthetic_pixel(first + i, k)) ++k;
        ASSERT_EQ(k, 3072) << "image " << i << " differs at byte " << k;
    }
}

}  // namespace

// ---------------------------------------------------------------- CIFAR

TEST(Cifar10, RawFilesRoundTripPixelsLabelsAndOfficialNames) {
    TempDir dir;
    fs::path root = write_cifar10(dir, false);
    Dataset train = load_dataset("cifar10:" + root.string(), Split::train);
    EXPECT_EQ(train.name, "cifar10");
    expect_cifar_images(train, 0, 20, 10);
    ASSERT_EQ(train.class_names.size(), 10u);
    EXPECT_EQ(train.class_names.front(), "airplane");
    EXPECT_EQ(train.class_names.back(), "truck");
    expect_cifar_images(load_dataset("cifar10:" + root.string(), Split::test), 100, 3, 10);
}

TEST(Cifar10, XzCompressedFilesReadLikeRawOnes) {
    TempDir dir;
    fs::path root = write_cifar10(dir, true);
    expect_cifar_images(load_dataset("cifar10:" + root.string(), Split::train), 0, 20, 10);
    expect_cifar_images(load_dataset("cifar10:" + root.string(), Split::test), 100, 3, 10);
}

TEST(Cifar10, ClassNamesComeFromBatchesMeta) {
    TempDir dir;
    fs::path root = write_cifar10(dir, false);
    std::ofstream(root / "batches.meta.txt") << "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n";
    Dataset data = load_dataset("cifar10:" + root.string(), Split::test);
    EXPECT_EQ(data.class_names, (std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}));
    std::ofstream(root / "batches.meta.txt") << "a\nb\n";
    expect_error([&] { load_dataset("cifar10:" + root.string(), Split::test); },
                 {"batches.meta.txt", "2 class names, expected 10"});
}

TEST(Cifar10, MissingFileNamesBothAcceptedNames) {
    TempDir dir;
    fs::path root = write_cifar10(dir, false);
    fs::remove(root / "data_batch_3.bin");
    expect_error([&] { load_dataset("cifar10:" + root.string(), Split::train); },
                 {root.string(), "missing (expected data_batch_3.bin or data_batch_3.bin.xz)"});
    expect_error([&] { load_dataset("cifar10:" + (dir / "nowhere").string(), Split::train); },
                 {"nowhere", "no such directory"});
}

TEST(Cifar10, TruncatedFileIsNotAWholeNumberOfRecords) {
    TempDir dir;
    fs::path root = write_cifar10(dir, false);
    Bytes records = cifar_records(0, 10, 1, 10);
    records.resize(30000);
    write_file(root / "data_batch_3.bin", records);
    expect_error([&] { load_dataset("cifar10:" + root.string(), Split::train); },
                 {"data_batch_3.bin: truncated: 30000 bytes is not a whole number of 3073-byte records"});
    write_file(root / "test_batch.bin", {});
    expect_error([&] { load_dataset("cifar10:" + root.string(), Split::test); }, {"test_batch.bin", "empty"});
}

TEST(Cifar10, LabelOutsideTheClassesIsAnError) {
    TempDir dir;
    fs::path root = write_cifar10(dir, false);
    Bytes records = cifar_records(0, 4, 1, 10);
    records[2 * 3073] = 12;
    write_file(root / "data_batch_2.bin", records);
    expect_error([&] { load_dataset("cifar10:" + root.string(), Split::train); },
                 {"data_batch_2.bin", "record 2", "label 12 outside 0..9"});
}

TEST(Cifar10, CorruptOrTruncatedXzIsAnError) {
    TempDir dir;
    fs::path root = write_cifar10(dir, true);
    Bytes packed = read_bytes(root / "test_batch.bin.xz");
    Bytes cut(packed.begin(), packed.begin() + static_cast<std::ptrdiff_t>(packed.size() / 2));
    write_file(root / "test_batch.bin.xz", cut);
    expect_error([&] { load_dataset("cifar10:" + root.string(), Split::test); },
                 {"test_batch.bin.xz", "truncated xz data"});
    Bytes garbled = packed;
    for (std::size_t i = 40; i < garbled.size() - 40; i += 7) garbled[i] ^= 0x5a;
    write_file(root / "test_batch.bin.xz", garbled);
    expect_error([&] { load_dataset("cifar10:" + root.string(), Split::test); }, {"test_batch.bin.xz"});
}

TEST(Cifar100, FineLabelsAndClassNames) {
    TempDir dir;
    fs::path root = dir / "cifar100";
    write_file(root / "train.bin", cifar_records(0, 7, 2, 100));
    write_file(root / "test.bin.xz", xz_compress(cifar_records(50, 5, 2, 100)));
    Dataset train = load_dataset("cifar100:" + root.string(), Split::train);
    EXPECT_EQ(train.name, "cifar100");
    expect_cifar_images(train, 0, 7, 100);
    ASSERT_EQ(train.class_names.size(), 100u);
    EXPECT_EQ(train.class_names[42], "class_42");
    expect_cifar_images(load_dataset("cifar100:" + root.string(), Split::test), 50, 5, 100);

    std::ofstream names(root / "fine_label_names.txt");
    for (int i = 0; i < 100; ++i) names << "fine" << i << "\n";
    names.close();
    EXPECT_EQ(load_dataset("cifar100:" + root.string(), Split::train).class_names[99], "fine99");
}

TEST(Cifar100, BadRecordsAreErrors) {
    TempDir dir;
    fs::path root = dir / "cifar100";
    Bytes records = cifar_records(0, 3, 2, 100);
    records[3074 + 1] = 100;
    write_file(root / "train.bin", records);
    expect_error([&] { load_dataset("cifar100:" + root.string(), Split::train); },
                 {"train.bin", "record 1", "label 100 outside 0..99"});
    records = cifar_records(0, 3, 2, 100);
    records[0] = 20;
    write_file(root / "train.bin", records);
    expect_error([&] { load_dataset("cifar100:" + root.string(), Split::train); },
                 {"train.bin", "coarse label 20 outside 0..19"});
    records.resize(3074 * 2 + 100);
    write_file(root / "train.bin", records);
    expect_error([&] { load_dataset("cifar100:" + root.string(), Split::train); },
                 {"train.bin", "not a whole number of 3074-byte records"});
}

// ---------------------------------------------------------------- IDX

TEST(Idx, RawAndGzipFilesRoundTrip) {
    TempDir dir;
    fs::path root = dir / "mnist";
    write_file(root / "train-images-idx3-ubyte", idx_images(9, 5, 6));
    write_file(root / "train-labels-idx1-ubyte", idx_labels(9));
    write_gzip(root / "t10k-images-idx3-ubyte.gz", idx_images(4, 5, 6));
    write_gzip(root / "t10k-labels-idx1-ubyte.gz", idx_labels(4));
    for (Split split : {Split::train, Split::test}) {
        Dataset data = load_dataset("mnist:" + root.string(), split);
        const int count = split == Split::train ? 9 : 4;
        EXPECT_EQ(data.name, "mnist");
        ASSERT_EQ(data.size(), count);
        EXPECT_EQ(data.channels, 1);
        EXPECT_EQ(data.height, 5);
        EXPECT_EQ(data.width, 6);
        EXPECT_EQ(data.class_names.front(), "0");
        EXPECT_EQ(data.class_names.back(), "9");
        for (int i = 0; i < count; ++i) {
            EXPECT_EQ(data.labels[i], (i * 3) % 10);
            for (int k = 0; k < 30; ++k) ASSERT_EQ(data.image(i)[k], synthetic_pixel(i, k));
        }
    }
    Dataset fashion = load_dataset("fashion-mnist:" + root.string(), Split::test);
    EXPECT_EQ(fashion.name, "fashion-mnist");
    EXPECT_EQ(fashion.class_names.front(), "T-shirt/top");
    EXPECT_EQ(fashion.class_names.back(), "Ankle boot");
}

TEST(Idx, XzCompressedFilesReadLikeGzipOnes) {
    TempDir dir;
    fs::path root = dir / "mnist";
    write_file(root / "t10k-images-idx3-ubyte.xz", xz_compress(idx_images(4, 5, 6)));
    write_file(root / "t10k-labels-idx1-ubyte.xz", xz_compress(idx_labels(4)));
    Dataset data = load_dataset("mnist:" + root.string(), Split::test);
    ASSERT_EQ(data.size(), 4);
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(data.labels[i], (i * 3) % 10);
        for (int k = 0; k < 30; ++k) ASSERT_EQ(data.image(i)[k], synthetic_pixel(i, k));
    }
}

TEST(Idx, CorruptHeadersAndSizesAreErrorsNamingTheFile) {
    TempDir dir;
    fs::path root = dir / "mnist";
    auto load = [&] { load_dataset("mnist:" + root.string(), Split::train); };
    const fs::path images = root / "train-images-idx3-ubyte", labels = root / "train-labels-idx1-ubyte";
    write_file(labels, idx_labels(9));

    Bytes bad_magic = idx_images(9, 5, 6);
    bad_magic[3] = 0x01;
    write_file(images, bad_magic);
    expect_error(load, {images.string(), "not an IDX image file (magic 0x00000801"});

    Bytes truncated = idx_images(9, 5, 6);
    truncated.pop_back();
    write_file(images, truncated);
    expect_error(load, {images.string(), "truncated"});

    Bytes trailing = idx_images(9, 5, 6);
    trailing.push_back(0);
    write_file(images, trailing);
    expect_error(load, {images.string(), "trailing"});

    write_file(images, {0, 0, 8, 3, 0, 0});
    expect_error(load, {images.string(), "truncated IDX header"});

    write_file(images, idx_images(8, 5, 6));
    expect_error(load, {labels.string(), "9 labels for the 8 images"});

    Bytes bad_label = idx_labels(9);
    bad_label[8 + 4] = 10;
    write_file(images, idx_images(9, 5, 6));
    write_file(labels, bad_label);
    expect_error(load, {labels.string(), "label 10 of image 4 outside 0..9"});
}

TEST(Idx, CompressedFilesAreCheckedAsStrictly) {
    TempDir dir;
    fs::path root = dir / "mnist";
    auto load = [&] { load_dataset("mnist:" + root.string(), Split::test); };
    const fs::path images = root / "t10k-images-idx3-ubyte.gz";
    write_gzip(root / "t10k-labels-idx1-ubyte.gz", idx_labels(9));

    Bytes short_payload = idx_images(9, 5, 6);
    short_payload.resize(short_payload.size() - 10);
    write_gzip(images, short_payload);
    expect_error(load, {images.string(), "truncated: header says 270 bytes of data, file holds 260"});

    Bytes long_payload = idx_images(9, 5, 6);
    long_payload.push_back(1);
    write_gzip(images, long_payload);
    expect_error(load, {images.string(), "trailing bytes"});

    Bytes packed = gzip_bytes(idx_images(9, 5, 6), dir);
    packed.resize(packed.size() - 12);
    write_file(images, packed);
    expect_error(load, {images.string(), "truncated gzip data"});
}

TEST(Idx, HostileHeaderFailsWithoutAllocating) {
    TempDir dir;
    fs::path root = dir / "mnist";
    auto load = [&] { load_dataset("mnist:" + root.string(), Split::train); };
    Bytes header;
    put_be32(header, 0x00000803);
    put_be32(header, 1u << 31);
    put_be32(header, 1u << 16);
    put_be32(header, 1u << 16);
    write_file(root / "train-labels-idx1-ubyte", idx_labels(9));
    write_file(root / "train-images-idx3-ubyte", header);
    expect_error(load, {"train-images-idx3-ubyte", "header claims more than"});

    // Plausible totals in a compressed file are only believed as far as the data goes.
    fs::remove(root / "train-images-idx3-ubyte");
    Bytes plausible;
    put_be32(plausible, 0x00000803);
    put_be32(plausible, 60000);
    put_be32(plausible, 1000);
    put_be32(plausible, 1000);
    plausible.resize(plausible.size() + 1000, 7);
    write_gzip(root / "train-images-idx3-ubyte.gz", plausible);
    Bytes labels;
    put_be32(labels, 0x00000801);
    put_be32(labels, 60000);
    write_file(root / "train-labels-idx1-ubyte", labels);
    expect_error(load, {"train-labels-idx1-ubyte", "truncated"});
}

// ---------------------------------------------------------------- images

TEST(ReadImage, PngVariantsDecodeToExactGrayOrRgb) {
    TempDir dir;
    const int w = 5, h = 3;
    Bytes gray(w * h), rgb(w * h * 3), rgba(w * h * 4), gray_alpha(w * h * 2);
    std::vector<std::uint16_t> gray16(w * h);
    for (int i = 0; i < w * h; ++i) {
        gray[i] = static_cast<std::uint8_t>(i * 17);
        gray16[i] = static_cast<std::uint16_t>(gray[i] * 257);
        gray_alpha[2 * i] = gray[i];
        gray_alpha[2 * i + 1] = static_cast<std::uint8_t>(255 - i);  // opaque-ish: dropped, not blended
        for (int c = 0; c < 3; ++c) rgb[3 * i + c] = rgba[4 * i + c] = static_cast<std::uint8_t>(i * 13 + c * 70);
        rgba[4 * i + 3] = 255;
    }
    write_png(dir / "gray.png", w, h, PNG_FORMAT_GRAY, gray.data());
    write_png(dir / "gray16.png", w, h, PNG_FORMAT_LINEAR_Y, gray16.data());
    write_png(dir / "rgb.png", w, h, PNG_FORMAT_RGB, rgb.data());
    write_png(dir / "rgba.png", w, h, PNG_FORMAT_RGBA, rgba.data());
    // Palette: entry i is the colour of pixel i.
    Bytes indices(w * h);
    for (int i = 0; i < w * h; ++i) indices[i] = static_cast<std::uint8_t>(i);
    write_png(dir / "palette.png", w, h, PNG_FORMAT_RGB_COLORMAP, indices.data(), rgb.data(), w * h);

    auto expect = [&](const std::string& name, int channels, const Bytes& planar) {
        Image image = read_image(dir / name);
        EXPECT_EQ(image.channels, channels) << name;
        EXPECT_EQ(image.height, h) << name;
        EXPECT_EQ(image.width, w) << name;
        EXPECT_EQ(image.pixels, planar) << name;
    };
    expect("gray.png", 1, gray);
    expect("gray16.png", 1, gray);
    expect("rgb.png", 3, planar_from_interleaved(rgb, 3));
    expect("rgba.png", 3, planar_from_interleaved(rgb, 3));
    expect("palette.png", 3, planar_from_interleaved(rgb, 3));

    // Translucent pixels keep their stored gray: alpha is dropped, not blended.
    write_png(dir / "gray_alpha.png", w, h, PNG_FORMAT_GA, gray_alpha.data());
    expect("gray_alpha.png", 1, gray);

    Bytes bits = {0b10110000, 0b01000000, 0b11111000};  // 5 one-bit pixels per row, MSB first
    write_png_rows(dir / "one_bit.png", w, h, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, bits, 1);
    expect("one_bit.png", 1, Bytes{255, 0, 255, 255, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 255});
    write_png_rows(dir / "interlaced.png", w, h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, rgb, w * 3);
    expect("interlaced.png", 3, planar_from_interleaved(rgb, 3));
}

TEST(ReadImage, JpegDecodesCloseToTheOriginalWhateverTheExtension) {
    TempDir dir;
    const int w = 16, h = 16;
    Bytes rgb = smooth_rgb(w, h, 0);
    write_jpeg(dir / "photo.png", w, h, 3, rgb);  // content decides, not the name
    Image image = read_image(dir / "photo.png");
    ASSERT_EQ(image.channels, 3);
    ASSERT_EQ(image.height, h);
    ASSERT_EQ(image.width, w);
    Bytes planar = planar_from_interleaved(rgb, 3);
    for (std::size_t i = 0; i < planar.size(); ++i) EXPECT_NEAR(image.pixels[i], planar[i], 8) << i;

    Bytes gray(w * h);
    for (int i = 0; i < w * h; ++i) gray[i] = static_cast<std::uint8_t>(30 + i / 2);
    write_jpeg(dir / "gray.jpg", w, h, 1, gray);
    Image gray_image = read_image(dir / "gray.jpg");
    ASSERT_EQ(gray_image.channels, 1);
    for (std::size_t i = 0; i < gray.size(); ++i) EXPECT_NEAR(gray_image.pixels[i], gray[i], 6) << i;
}

TEST(ReadImage, CorruptTruncatedAndForeignFilesAreErrorsNamingTheFile) {
    TempDir dir;
    const int w = 16, h = 16;
    Bytes rgb = smooth_rgb(w, h, 0);
    write_png(dir / "good.png", w, h, PNG_FORMAT_RGB, rgb.data());
    write_jpeg(dir / "good.jpg", w, h, 3, rgb);
    Bytes png = read_bytes(dir / "good.png"), jpeg = read_bytes(dir / "good.jpg");

    write_file(dir / "cut.png", Bytes(png.begin(), png.begin() + static_cast<std::ptrdiff_t>(png.size() - 20)));
    expect_error([&] { read_image(dir / "cut.png"); }, {"cut.png", "corrupt PNG"});
    Bytes garbled = png;
    for (std::size_t i = 40; i < garbled.size() - 12; ++i) garbled[i] ^= 0xa5;
    write_file(dir / "garbled.png", garbled);
    expect_error([&] { read_image(dir / "garbled.png"); }, {"garbled.png", "corrupt PNG"});
    write_file(dir / "header.png", Bytes(png.begin(), png.begin() + 8));
    expect_error([&] { read_image(dir / "header.png"); }, {"header.png", "corrupt PNG"});

    write_file(dir / "cut.jpg", Bytes(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(jpeg.size() / 2)));
    expect_error([&] { read_image(dir / "cut.jpg"); }, {"cut.jpg", "corrupt JPEG"});
    write_file(dir / "header.jpg", Bytes(jpeg.begin(), jpeg.begin() + 3));
    expect_error([&] { read_image(dir / "header.jpg"); }, {"header.jpg", "corrupt JPEG"});

    write_file(dir / "notes.png", {'h', 'e', 'l', 'l', 'o'});
    expect_error([&] { read_image(dir / "notes.png"); }, {"notes.png", "neither a PNG nor a JPEG"});
    expect_error([&] { read_image(dir / "absent.png"); }, {"absent.png", "cannot open"});
}

// ---------------------------------------------------------------- folders

TEST(Folder, TrainAndTestTreesWithSortedClassesAndHiddenFilesSkipped) {
    TempDir dir;
    const int w = 4, h = 3;
    auto gray_image = [&](int seed) {
        Bytes pixels(w * h);
        for (int i = 0; i < w * h; ++i) pixels[i] = static_cast<std::uint8_t>(seed * 20 + i);
        return pixels;
    };
    std::map<std::string, Bytes> written;
    auto put = [&](const std::string& name, int seed) {
        written[name] = gray_image(seed);
        write_png(dir / name, w, h, PNG_FORMAT_GRAY, written[name].data());
    };
    put("data/train/zebra/b.png", 1);
    put("data/train/zebra/a.png", 2);
    put("data/train/ant/x.png", 3);
    put("data/test/ant/y.png", 4);
    put("data/test/moth/z.png", 5);  // only in test: still a class of both splits
    write_file(dir / "data/train/ant/.DS_Store", {1, 2, 3});
    fs::create_directories(dir / "data/train/.hidden_class");

    Dataset train = load_dataset("folder:" + (dir / "data").string(), Split::train);
    EXPECT_EQ(train.name, "folder");
    EXPECT_EQ(train.class_names, (std::vector<std::string>{"ant", "moth", "zebra"}));
    EXPECT_EQ(train.channels, 1);
    EXPECT_EQ(train.height, h);
    EXPECT_EQ(train.width, w);
    ASSERT_EQ(train.size(), 3);
    EXPECT_EQ(train.labels, (std::vector<std::int32_t>{0, 2, 2}));
    Bytes expected = written["data/train/ant/x.png"];
    for (auto name : {"data/train/zebra/a.png", "data/train/zebra/b.png"})
        expected.insert(expected.end(), written[name].begin(), written[name].end());
    EXPECT_EQ(train.pixels, expected);

    Dataset test = load_dataset("folder:" + (dir / "data").string(), Split::test);
    EXPECT_EQ(test.class_names, train.class_names);
    EXPECT_EQ(test.labels, (std::vector<std::int32_t>{0, 1}));
}

TEST(Folder, GrayImagesAreReplicatedWhenAnyImageIsColour) {
    TempDir dir;
    const int w = 16, h = 16;
    Bytes gray(w * h);
    for (int i = 0; i < w * h; ++i) gray[i] = static_cast<std::uint8_t>(i);
    write_png(dir / "set/cats/1.png", w, h, PNG_FORMAT_GRAY, gray.data());
    Bytes rgb = smooth_rgb(w, h, 3);
    write_jpeg(dir / "set/dogs/2.jpeg", w, h, 3, rgb);
    for (Split split : {Split::train, Split::test}) {  // no train/ and test/: both splits are the folder
        Dataset data = load_dataset("folder:" + (dir / "set").string(), split);
        ASSERT_EQ(data.channels, 3);
        ASSERT_EQ(data.size(), 2);
        for (int c = 0; c < 3; ++c)
            for (int i = 0; i < w * h; ++i) ASSERT_EQ(data.image(0)[c * w * h + i], gray[i]);
        Bytes planar = planar_from_interleaved(rgb, 3);
        for (int i = 0; i < 3 * w * h; ++i) EXPECT_NEAR(data.image(1)[i], planar[i], 8);
    }
}

TEST(Folder, MixedSizesAndForeignFilesAreErrors) {
    TempDir dir;
    Bytes small(4 * 4, 9), large(5 * 4, 9);
    write_png(dir / "set/a/1.png", 4, 4, PNG_FORMAT_GRAY, small.data());
    write_png(dir / "set/b/2.png", 5, 4, PNG_FORMAT_GRAY, large.data());
    expect_error([&] { load_dataset("folder:" + (dir / "set").string(), Split::train); },
                 {"2.png: 5x4 image", "1.png is 4x4"});
    fs::remove(dir / "set/b/2.png");
    write_file(dir / "set/b/readme.txt", {'h', 'i'});
    expect_error([&] { load_dataset("folder:" + (dir / "set").string(), Split::train); },
                 {"readme.txt", "neither a PNG nor a JPEG"});
    fs::create_directories(dir / "empty/a");
    expect_error([&] { load_dataset("folder:" + (dir / "empty").string(), Split::train); }, {"empty", "no images"});
}

TEST(LoadDataset, SpecsAreValidated) {
    expect_error([] { load_dataset("tfrecord:/tmp", Split::train); }, {"unknown kind 'tfrecord'", "cifar10:DIR"});
    expect_error([] { load_dataset("cifar10", Split::train); }, {"needs a directory"});
    expect_error([] { load_dataset("imagenet", Split::train); }, {"needs a directory"});
    EXPECT_EQ(dataset_kinds().size(), 6u);
}

// ---------------------------------------------------------------- loader

namespace {

// n images whose label is their index, so batches say which sample each row came from.
Dataset indexed_dataset(std::int64_t n, std::int64_t channels, std::int64_t height, std::int64_t width) {
    Dataset data;
    data.name = "synthetic";
    data.channels = channels;
    data.height = height;
    data.width = width;
    data.pixels.resize(n * data.image_bytes());
    for (std::int64_t i = 0; i < n; ++i) {
        data.labels.push_back(static_cast<std::int32_t>(i));
        for (std::int64_t k = 0; k < data.image_bytes(); ++k)
            data.pixels[i * data.image_bytes() + k] = synthetic_pixel(i, k);
    }
    return data;
}

struct Epoch {
    std::vector<std::vector<float>> images;
    std::vector<std::vector<std::int32_t>> labels;
    std::vector<std::int64_t> counts;
};

Epoch run_epoch(const Dataset& data, const LoaderOptions& options, std::uint64_t epoch) {
    BatchLoader loader(data, options, epoch);
    Epoch result;
    weft::Tensor images, labels;
    std::int64_t count = 0;
    while (loader.next(images, labels, count)) {
        result.images.emplace_back(images.as<float>(), images.as<float>() + images.numel());
        result.labels.emplace_back(labels.as<std::int32_t>(), labels.as<std::int32_t>() + labels.numel());
        result.counts.push_back(count);
    }
    EXPECT_EQ(static_cast<std::int64_t>(result.counts.size()), loader.batches() - options.first_batch);
    return result;
}

}  // namespace

TEST(BatchLoader, SameSeedAndEpochGiveIdenticalBatchesAndEpochsDiffer) {
    Dataset data = indexed_dataset(100, 3, 8, 8);
    LoaderOptions options;
    options.batch = 16;
    options.shuffle = true;
    options.seed = 7;
    options.augment = {2, true, true};
    Epoch a = run_epoch(data, options, 3), b = run_epoch(data, options, 3), c = run_epoch(data, options, 4);
    EXPECT_EQ(a.labels, b.labels);
    EXPECT_EQ(a.images, b.images);
    EXPECT_NE(a.labels, c.labels);
    options.seed = 8;
    EXPECT_NE(run_epoch(data, options, 3).labels, a.labels);
}

TEST(BatchLoader, EverySampleAppearsOncePerEpoch) {
    Dataset data = indexed_dataset(103, 1, 2, 2);
    LoaderOptions options;
    options.batch = 10;
    options.shuffle = true;
    for (std::uint64_t epoch = 0; epoch < 3; ++epoch) {
        Epoch e = run_epoch(data, options, epoch);
        std::multiset<std::int32_t> seen;
        for (std::size_t b = 0; b < e.labels.size(); ++b)
            for (std::int64_t r = 0; r < e.counts[b]; ++r) seen.insert(e.labels[b][r]);
        ASSERT_EQ(seen.size(), 103u);
        for (std::int32_t i = 0; i < 103; ++i) EXPECT_EQ(seen.count(i), 1u) << i;
    }
}

TEST(BatchLoader, PartialLastBatchRepeatsItsLastSampleUnlessDropped) {
    Dataset data = indexed_dataset(10, 1, 3, 3);
    LoaderOptions options;
    options.batch = 4;
    Epoch e = run_epoch(data, options, 0);
    ASSERT_EQ(e.counts, (std::vector<std::int64_t>{4, 4, 2}));
    EXPECT_EQ(e.labels[2], (std::vector<std::int32_t>{8, 9, 9, 9}));
    for (int row = 2; row < 4; ++row)
        for (int k = 0; k < 9; ++k) EXPECT_EQ(e.images[2][row * 9 + k], e.images[2][9 + k]);
    for (int k = 0; k < 9; ++k) EXPECT_FLOAT_EQ(e.images[2][9 + k], synthetic_pixel(9, k) / 255.0f);

    options.drop_last = true;
    EXPECT_EQ(run_epoch(data, options, 0).counts, (std::vector<std::int64_t>{4, 4}));
    EXPECT_EQ(BatchLoader(indexed_dataset(0, 1, 3, 3), options, 0).batches(), 0);
}

TEST(BatchLoader, ResumingPartWayReproducesTheRestOfTheEpoch) {
    Dataset data = indexed_dataset(50, 3, 6, 6);
    LoaderOptions options;
    options.batch = 8;
    options.shuffle = true;
    options.augment = {2, true, true};
    Epoch full = run_epoch(data, options, 5);
    options.first_batch = 4;
    Epoch rest = run_epoch(data, options, 5);
    ASSERT_EQ(rest.labels.size(), 3u);
    for (std::size_t b = 0; b < 3; ++b) {
        EXPECT_EQ(rest.labels[b], full.labels[b + 4]);
        EXPECT_EQ(rest.images[b], full.images[b + 4]);
    }
}

// Data-parallel training: the shards of every rank, side by side, are the whole batch, augmentation
// included, also when an epoch is resumed part-way; a batch that does not cut evenly is refused.
TEST(BatchLoader, ShardsOfABatchTogetherAreTheWholeBatch) {
    Dataset data = indexed_dataset(50, 3, 6, 6);
    LoaderOptions options;
    options.batch = 12;
    options.shuffle = true;
    options.drop_last = true;
    options.augment = {2, true, true};
    options.first_batch = 1;
    const Epoch whole = run_epoch(data, options, 2);
    options.shard_count = 3;
    for (std::int64_t shard = 0; shard < 3; ++shard) {
        options.shard_index = shard;
        const Epoch part = run_epoch(data, options, 2);
        ASSERT_EQ(part.labels.size(), whole.labels.size());
        const std::size_t pixels = part.images[0].size();
        for (std::size_t b = 0; b < part.labels.size(); ++b) {
            EXPECT_EQ(part.counts[b], 4);
            const auto first_label = whole.labels[b].begin() + 4 * shard;
            EXPECT_TRUE(std::equal(part.labels[b].begin(), part.labels[b].end(), first_label));
            EXPECT_TRUE(std::equal(part.images[b].begin(), part.images[b].end(),
                                   whole.images[b].begin() + static_cast<std::ptrdiff_t>(pixels * shard)));
        }
    }
    options.shard_count = 5;  // 12 rows in 5 shards
    options.shard_index = 0;
    EXPECT_THROW(BatchLoader(data, options, 0), weft::Error);
    options.shard_count = 3;
    options.drop_last = false;  // a last partial batch could leave a shard empty
    EXPECT_THROW(BatchLoader(data, options, 0), weft::Error);
}

// Every output image must equal the reference "zero-pad, crop at (dy, dx), maybe mirror" for
// exactly one (dy, dx, flip); pixels 1..192 are distinct and non-zero, so the match is unique.
TEST(BatchLoader, AugmentationIsPadCropFlipPixelForPixel) {
    const int C = 3, H = 8, W = 8, pad = 2, n = 400;
    Dataset data;
    data.name = "distinct";
    data.channels = C;
    data.height = H;
    data.width = W;
    for (int i = 0; i < n; ++i) {
        data.labels.push_back(i);
        for (int k = 0; k < C * H * W; ++k) data.pixels.push_back(static_cast<std::uint8_t>(1 + k));
    }
    auto reference = [&](int dy, int dx, bool flip, int c, int y, int x) -> float {
        int sx = (flip ? W - 1 - x : x) + dx - pad, sy = y + dy - pad;
        if (sy < 0 || sy >= H || sx < 0 || sx >= W) return 0.0f;
        return (1 + c * H * W + sy * W + sx) / 255.0f;
    };
    LoaderOptions options;
    options.batch = 32;
    options.augment = {pad, true, true};
    Epoch e = run_epoch(data, options, 11);
    std::set<std::pair<int, int>> offsets;
    int flips = 0;
    for (std::size_t b = 0; b < e.images.size(); ++b)
        for (std::int64_t r = 0; r < e.counts[b]; ++r) {
            const float* out = e.images[b].data() + r * C * H * W;
            int matches = 0;
            for (int dy = 0; dy <= 2 * pad; ++dy)
                for (int dx = 0; dx <= 2 * pad; ++dx)
                    for (bool flip : {false, true}) {
                        bool same = true;
                        for (int c = 0; c < C && same; ++c)
                            for (int y = 0; y < H && same; ++y)
                                for (int x = 0; x < W && same; ++x)
                                    same = out[(c * H + y) * W + x] == reference(dy, dx, flip, c, y, x);
                        if (same) {
                            ++matches;
                            offsets.insert({dy, dx});
                            flips += flip;
                        }
                    }
            ASSERT_EQ(matches, 1) << "batch " << b << " row " << r;
        }
    EXPECT_EQ(offsets.size(), 25u) << "every crop offset in 0..2*pad occurs";
    EXPECT_GT(flips, n / 2 - 60);
    EXPECT_LT(flips, n / 2 + 60);

    // Padding alone crops the centre back out: the image unchanged.
    options.augment = {pad, false, false};
    Epoch plain = run_epoch(data, options, 11);
    for (int k = 0; k < C * H * W; ++k) EXPECT_FLOAT_EQ(plain.images[0][k], (1 + k) / 255.0f);
}

TEST(BatchLoader, NormalisesWithPerChannelMeanAndStd) {
    Dataset data = indexed_dataset(5, 2, 3, 4);
    LoaderOptions options;
    options.batch = 5;
    options.normalization = {{0.25f, 0.5f}, {0.5f, 0.125f}};
    Epoch e = run_epoch(data, options, 0);
    for (int i = 0; i < 5; ++i)
        for (int c = 0; c < 2; ++c)
            for (int k = 0; k < 12; ++k) {
                float x = synthetic_pixel(i, c * 12 + k) / 255.0f;
                float expected = (x - options.normalization.mean[c]) / options.normalization.std[c];
                EXPECT_NEAR(e.images[0][i * 24 + c * 12 + k], expected, 1e-6f);
            }
    options.normalization = {{0.5f}, {1.0f}};
    expect_error([&] { BatchLoader(data, options, 0); }, {"1 means and 1 deviations for 2 channels"});
}

TEST(BatchLoader, ChannelStatisticsAreExact) {
    Dataset data;
    data.name = "stats";
    data.channels = 2;
    data.height = 1;
    data.width = 2;
    data.pixels = {0, 255, 7, 7, /**/ 255, 0, 7, 7};  // channel 0: half 0, half 1; channel 1 constant
    data.labels = {0, 1};
    Normalization stats = channel_statistics(data);
    EXPECT_NEAR(stats.mean[0], 0.5, 1e-7);
    EXPECT_NEAR(stats.std[0], 0.5, 1e-7);
    EXPECT_NEAR(stats.mean[1], 7 / 255.0, 1e-7);
    EXPECT_EQ(stats.std[1], 1.0f) << "a constant channel must not divide by zero";
}

TEST(BatchLoader, ReusesTheCallersTensors) {
    Dataset data = indexed_dataset(64, 3, 4, 4);
    LoaderOptions options;
    options.batch = 8;
    BatchLoader loader(data, options, 0);
    weft::Tensor images, labels;
    std::int64_t count = 0;
    ASSERT_TRUE(loader.next(images, labels, count));
    EXPECT_EQ(images.desc(), (weft::TensorDesc{weft::DType::f32, {8, 3, 4, 4}}));
    EXPECT_EQ(labels.desc(), (weft::TensorDesc{weft::DType::i32, {8}}));
    const void* storage = images.data();
    while (loader.next(images, labels, count)) EXPECT_EQ(images.data(), storage);
}

TEST(BatchLoader, LoaderThreadErrorsAreRethrownByNext) {
    Dataset data = indexed_dataset(40, 1, 2, 2);
    data.class_names.assign(40, "c");
    data.labels[37] = 412;
    LoaderOptions options;
    options.batch = 4;
    BatchLoader loader(data, options, 0);
    weft::Tensor images, labels;
    std::int64_t count = 0, delivered = 0;
    expect_error([&] { while (loader.next(images, labels, count)) ++delivered; },
                 {"synthetic", "sample 37 has label 412 outside 0..39"});
    EXPECT_EQ(delivered, 9) << "the batches before the bad one still arrive";
}

TEST(BatchLoader, DestroyingMidEpochReturnsPromptly) {
    Dataset data = indexed_dataset(4000, 3, 32, 32);
    LoaderOptions options;
    options.batch = 64;
    options.augment = {4, true, true};
    auto start = std::chrono::steady_clock::now();
    for (int round = 0; round < 20; ++round) {
        BatchLoader loader(data, options, round);
        weft::Tensor images, labels;
        std::int64_t count = 0;
        if (round % 2) {
            ASSERT_TRUE(loader.next(images, labels, count));
        }
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 2.0);
}

TEST(BatchLoader, ThroughputWithAugmentationOnCifarSizedImages) {
    Dataset data = indexed_dataset(10000, 3, 32, 32);
    LoaderOptions options;
    options.batch = 64;
    options.shuffle = true;
    options.augment = {4, true, true};
    options.normalization = channel_statistics(data);
    weft::Tensor images, labels;
    std::int64_t count = 0, seen = 0;
    auto start = std::chrono::steady_clock::now();
    BatchLoader loader(data, options, 1);
    while (loader.next(images, labels, count)) seen += count;
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(seen, 10000);
    std::printf("[ throughput ] %.0f images/s (%.3f ms per batch of 64), pad 4 + crop + flip + normalise\n",
                seen / seconds, 1e3 * seconds / loader.batches());
}

// ---------------------------------------------------------------- real data sets

TEST(RealData, FashionMnistFromTheDebianPackage) {
    const fs::path dir = "/usr/share/datasets/fashion-mnist";
    if (!fs::exists(dir / "train-images-idx3-ubyte.gz") && !fs::exists(dir / "train-images-idx3-ubyte"))
        GTEST_SKIP() << dir << " not installed (Debian package dataset-fashion-mnist)";
    Dataset train = load_dataset("fashion-mnist", Split::train);
    Dataset test = load_dataset("fashion-mnist", Split::test);
    EXPECT_EQ(train.size(), 60000);
    EXPECT_EQ(test.size(), 10000);
    EXPECT_EQ(train.channels, 1);
    EXPECT_EQ(train.height, 28);
    EXPECT_EQ(train.width, 28);
    EXPECT_EQ(train.class_names.size(), 10u);
    std::vector<int> per_class(10);
    for (std::int32_t label : train.labels) ++per_class[label];
    for (int count : per_class) EXPECT_EQ(count, 6000);
    Normalization stats = channel_statistics(train);
    EXPECT_NEAR(stats.mean[0], 0.286, 0.01);
    EXPECT_NEAR(stats.std[0], 0.353, 0.01);
}

TEST(RealData, Cifar10FromWeftCifar10Dir) {
    const char* dir = std::getenv("WEFT_CIFAR10_DIR");
    if (!dir || !*dir) GTEST_SKIP() << "set WEFT_CIFAR10_DIR to a directory with the CIFAR-10 binary version";
    Dataset train = load_dataset(std::string("cifar10:") + dir, Split::train);
    Dataset test = load_dataset(std::string("cifar10:") + dir, Split::test);
    EXPECT_EQ(train.size(), 50000);
    EXPECT_EQ(test.size(), 10000);
    EXPECT_EQ(train.image_bytes(), 3 * 32 * 32);
    Normalization stats = channel_statistics(train);
    EXPECT_NEAR(stats.mean[0], 0.4914, 0.01);
    EXPECT_NEAR(stats.std[0], 0.247, 0.01);
}
