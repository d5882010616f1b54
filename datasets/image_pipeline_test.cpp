// The streamed (ImageNet-style) pipeline: crop boxes, resampling, scaled and CMYK JPEG decoding,
// the image tree, and the loader's worker pool against its one-thread path, on files this test
// writes itself.
#include "image_files.h"
#include "random_stream.h"
#include "streamed_sample.h"

#include <weft/datasets/dataset.h>
#include <weft/datasets/image.h>
#include <weft/datasets/loader.h>
#include <weft/datasets/transforms.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace fs = std::filesystem;
using namespace weft::datasets;
using namespace weft::datasets::testing;

namespace {

// ---- crop boxes ----

TEST(CropBoxes, RandomResizedCropFitsTheImageWithAreaAndRatioInTheirRanges) {
    const RandomResizedCrop crop;  // 0.08..1 of the area, ratio 3/4..4/3
    std::uint64_t state = 12345;
    double area_sum = 0;
    const int draws = 4000;
    for (int i = 0; i < draws; ++i) {
        const CropBox box = random_resized_crop(375, 500, crop, state);
        ASSERT_GE(box.top, 0);
        ASSERT_GE(box.left, 0);
        ASSERT_LE(box.top + box.height, 375);
        ASSERT_LE(box.left + box.width, 500);
        ASSERT_EQ(box.top, std::floor(box.top));  // whole pixels, as torchvision
        ASSERT_EQ(box.width, std::floor(box.width));
        const double area = box.height * box.width / (375.0 * 500.0);
        const double ratio = box.width / box.height;
        // Rounding the sides to whole pixels moves area and ratio by at most a side's worth.
        EXPECT_GE(area, 0.08 - 0.01);
        EXPECT_LE(area, 1.0);
        EXPECT_GE(ratio, 0.75 * (1 - 0.02));
        EXPECT_LE(ratio, 4.0 / 3.0 * (1 + 0.02));
        area_sum += area;
    }
    // Uniform in area over 0.08..1 where the box fits: the mean sits a little under 0.54, since
    // the large boxes of extreme ratios do not fit a 4:3 image and are drawn again.
    EXPECT_GT(area_sum / draws, 0.40);
    EXPECT_LT(area_sum / draws, 0.56);
}

TEST(CropBoxes, NoDrawFitsAVeryLongImageSoTheCentredBoxOfTheNearestRatioIsTaken) {
    std::uint64_t state = 7;
    const CropBox box = random_resized_crop(10, 1000, RandomResizedCrop{}, state);
    EXPECT_EQ(box.height, 10);
    EXPECT_EQ(box.width, 13);  // round(10 · 4/3)
    EXPECT_EQ(box.top, 0);
    EXPECT_EQ(box.left, (1000 - 13) / 2);
}

TEST(CropBoxes, TheSameStreamGivesTheSameBoxes) {
    std::uint64_t a = stream_state(1, 2, 3), b = stream_state(1, 2, 3), c = stream_state(1, 2, 4);
    const CropBox x = random_resized_crop(300, 400, RandomResizedCrop{}, a);
    const CropBox y = random_resized_crop(300, 400, RandomResizedCrop{}, b);
    const CropBox z = random_resized_crop(300, 400, RandomResizedCrop{}, c);
    EXPECT_EQ(x.top, y.top);
    EXPECT_EQ(x.width, y.width);
    EXPECT_FALSE(x.top == z.top && x.left == z.left && x.width == z.width);
}

TEST(CropBoxes, CentreCropIsResizeTheShorterSideThenCrop) {
    // 500×375 to 224 at 0.875: resized to 341.3×256, then the centred 224×224, i.e. a
    // 328.125-pixel square in the middle of the source.
    const CropBox box = centre_crop(375, 500, 224, 224, 0.875);
    EXPECT_DOUBLE_EQ(box.height, 224.0 * 375.0 / 256.0);
    EXPECT_DOUBLE_EQ(box.width, 224.0 * 375.0 / 256.0);
    EXPECT_DOUBLE_EQ(box.top, (375.0 - box.height) / 2);
    EXPECT_DOUBLE_EQ(box.left, (500.0 - box.width) / 2);
}

TEST(CropBoxes, BadRangesAreRefusedNamingThem) {
    expect_error([] { validate(RandomResizedCrop{0.5, 0.2, 0.75, 1.33}); }, {"crop scale range 0.5,0.2"});
    expect_error([] { validate(RandomResizedCrop{0.08, 1.5, 0.75, 1.33}); }, {"crop scale range"});
    expect_error([] { validate(RandomResizedCrop{0.08, 1, 0, 1.33}); }, {"crop ratio range 0,1.33"});
}

// ---- resampling ----

// The filter written out in two dimensions: every source pixel's weight is the product of the
// two triangles at its centre, all weights normalised together.
std::vector<float> reference_resample(const std::vector<std::uint8_t>& planar, int channels, int height, int width,
                                      const CropBox& box, int out_h, int out_w, bool flip) {
    std::vector<float> out(channels * out_h * out_w);
    const double step_y = box.height / out_h, step_x = box.width / out_w;
    const double ry = std::max(step_y, 1.0), rx = std::max(step_x, 1.0);
    for (int c = 0; c < channels; ++c)
        for (int y = 0; y < out_h; ++y)
            for (int x = 0; x < out_w; ++x) {
                const int sx_index = flip ? out_w - 1 - x : x;
                const double cy = box.top + (y + 0.5) * step_y, cx = box.left + (sx_index + 0.5) * step_x;
                double sum = 0, total = 0;
                for (int j = 0; j < height; ++j)
                    for (int k = 0; k < width; ++k) {
                        const double w = std::max(0.0, 1 - std::abs(j + 0.5 - cy) / ry) *
                                         std::max(0.0, 1 - std::abs(k + 0.5 - cx) / rx);
                        sum += w * planar[(c * height + j) * width + k];
                        total += w;
                    }
                out[(c * out_h + y) * out_w + x] = float(sum / total);
            }
    return out;
}

TEST(Resample, MatchesTheTwoDimensionalFilterOnShrinksEnlargementsAndFlips) {
    std::mt19937 random(3);
    const int channels = 3, height = 37, width = 53;
    std::vector<std::uint8_t> image(channels * height * width);
    for (auto& v : image) v = static_cast<std::uint8_t>(random() & 0xff);
    struct Case {
        CropBox box;
        int out_h, out_w;
    };
    const Case cases[] = {
        {{0, 0, 37, 53}, 7, 9},             // shrink 5-6×: wide triangles
        {{3.25, 10.5, 20.5, 30.75}, 16, 16},  // fractional box, mild shrink
        {{5, 5, 8, 8}, 24, 20},             // enlarge 3×: plain bilinear
        {{-2, 40, 12, 14}, 6, 10},          // partly outside: outside taps dropped
    };
    for (const Case& c : cases)
        for (bool flip : {false, true}) {
            std::vector<float> out(channels * c.out_h * c.out_w);
            resample(image.data(), channels, height, width, c.box, c.out_h, c.out_w, flip, out.data());
            const std::vector<float> expected =
                reference_resample(image, channels, height, width, c.box, c.out_h, c.out_w, flip);
            for (std::size_t i = 0; i < out.size(); ++i)
                ASSERT_NEAR(out[i], expected[i], 2e-3) << "box " << c.box.top << "," << c.box.left << " flip "
                                                       << flip << " at " << i;
        }
}

TEST(Resample, TheWholeImageAtItsOwnSizeIsTheImageExactly) {
    std::vector<std::uint8_t> image(2 * 5 * 7);
    for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<std::uint8_t>(i * 13);
    std::vector<float> out(image.size());
    resample(image.data(), 2, 5, 7, {0, 0, 5, 7}, 5, 7, false, out.data());
    for (std::size_t i = 0; i < image.size(); ++i) EXPECT_EQ(out[i], float(image[i]));
}

TEST(Resample, AStrongShrinkAveragesInsteadOfAliasing) {
    std::vector<std::uint8_t> checkerboard(64 * 64);
    for (int y = 0; y < 64; ++y)
        for (int x = 0; x < 64; ++x) checkerboard[y * 64 + x] = (x + y) % 2 ? 255 : 0;
    std::vector<float> out(8 * 8);
    resample(checkerboard.data(), 1, 64, 64, {0, 0, 64, 64}, 8, 8, false, out.data());
    for (float v : out) EXPECT_NEAR(v, 127.5, 8.0);
}

// ---- decoding ----

TEST(ScaledJpeg, TheDenominatorIsTheLargestThatKeepsTheCropsResolution) {
    EXPECT_EQ(jpeg_denominator_for({0, 0, 400, 400}, 224, 224), 1);
    EXPECT_EQ(jpeg_denominator_for({0, 0, 448, 448}, 224, 224), 2);
    EXPECT_EQ(jpeg_denominator_for({0, 0, 1000, 900}, 224, 224), 4);
    EXPECT_EQ(jpeg_denominator_for({0, 0, 2000, 1800}, 224, 224), 8);
    EXPECT_EQ(jpeg_denominator_for({0, 0, 2000, 1800}, 224, 1000), 1);
}

TEST(ScaledJpeg, DecodingScaledIsCloseToDecodingWholeThenShrinking) {
    TempDir dir;
    const int w = 640, h = 480;
    write_jpeg(dir / "big.jpg", w, h, 3, smooth_rgb(w, h, 0), 95);
    const Image whole = read_image(dir / "big.jpg");
    const ScaledImage quarter =
        read_image_scaled(dir / "big.jpg", [](std::int64_t, std::int64_t) { return DecodePlan{4}; });
    EXPECT_EQ(quarter.full_width, w);
    EXPECT_EQ(quarter.full_height, h);
    EXPECT_EQ(quarter.image.width, w / 4);
    EXPECT_EQ(quarter.image.height, h / 4);
    const CropBox box{40, 80, 400, 400};
    std::vector<float> from_whole(3 * 64 * 64), from_quarter(3 * 64 * 64);
    resample(whole.pixels.data(), 3, h, w, box, 64, 64, false, from_whole.data());
    resample(quarter.image.pixels.data(), 3, h / 4, w / 4, {10, 20, 100, 100}, 64, 64, false, from_quarter.data());
    double difference = 0;
    for (std::size_t i = 0; i < from_whole.size(); ++i) difference += std::abs(from_whole[i] - from_quarter[i]);
    EXPECT_LT(difference / double(from_whole.size()), 2.0) << "mean absolute difference in 8-bit levels";
}

TEST(ScaledJpeg, CmykBecomesRgbInAdobesInvertedConvention) {
    TempDir dir;
    const int w = 16, h = 16;
    Bytes cmyk;
    for (int i = 0; i < w * h; ++i) cmyk.insert(cmyk.end(), {200, 100, 50, 128});  // stored as Adobe does: 255 = no ink
    write_jpeg(dir / "cmyk.jpg", w, h, 4, cmyk);
    for (const Image& image : {read_image(dir / "cmyk.jpg"),
                               read_image_scaled(dir / "cmyk.jpg", [](std::int64_t, std::int64_t) {
                                   return DecodePlan{2};
                               }).image}) {
        ASSERT_EQ(image.channels, 3);
        const std::int64_t plane = image.height * image.width;
        EXPECT_NEAR(image.pixels[0], 200 * 128 / 255, 4);
        EXPECT_NEAR(image.pixels[plane], 100 * 128 / 255, 4);
        EXPECT_NEAR(image.pixels[2 * plane], 50 * 128 / 255, 4);
    }
}

TEST(ScaledJpeg, AnUnsupportedDenominatorIsAnError) {
    TempDir dir;
    write_jpeg(dir / "a.jpg", 32, 32, 3, smooth_rgb(32, 32, 0));
    expect_error([&] { read_image_scaled(dir / "a.jpg", [](std::int64_t, std::int64_t) { return DecodePlan{3}; }); },
                 {"a.jpg", "1/3"});
}

TEST(PartialJpeg, APartHasThePixelsOfTheWholeDecodeThereAtEveryScale) {
    TempDir dir;
    const int w = 333, h = 250;  // no multiple of a coding block
    Bytes rgb = smooth_rgb(w, h, 1);
    for (std::size_t i = 0; i < rgb.size(); i += 7) rgb[i] = static_cast<std::uint8_t>(rgb[i] ^ 0x5a);  // texture
    write_jpeg(dir / "rgb.jpg", w, h, 3, rgb, 90);
    Bytes cmyk;
    for (std::size_t i = 0; i < rgb.size(); i += 3) cmyk.insert(cmyk.end(), {rgb[i], rgb[i + 1], rgb[i + 2], 200});
    write_jpeg(dir / "cmyk.jpg", w, h, 4, cmyk, 90);
    Bytes gray(rgb.begin(), rgb.begin() + w * h);
    write_jpeg(dir / "gray.jpg", w, h, 1, gray, 90);
    for (const char* name : {"rgb.jpg", "cmyk.jpg", "gray.jpg"})
        for (int denominator : {1, 2, 4})
            for (const DecodePlan& part : {DecodePlan{denominator, 37, 101, 90, 120}, DecodePlan{denominator, -5, -9, 40, 30},
                                           DecodePlan{denominator, 200, 250, 400, 400}}) {
                const ScaledImage whole =
                    read_image_scaled(dir / name, [&](std::int64_t, std::int64_t) { return DecodePlan{denominator}; });
                const ScaledImage cut = read_image_scaled(dir / name, [&](std::int64_t, std::int64_t) { return part; });
                ASSERT_EQ(cut.scaled_height, whole.image.height);
                ASSERT_EQ(cut.scaled_width, whole.image.width);
                // The part covers the plan's, in the scaled image's pixels.
                const double ry = double(cut.scaled_height) / h, rx = double(cut.scaled_width) / w;
                ASSERT_LE(cut.top, std::floor(std::max<std::int64_t>(part.top, 0) * ry));
                ASSERT_GE(cut.top + cut.image.height,
                          std::min(std::ceil((part.top + part.height) * ry), double(cut.scaled_height)));
                ASSERT_LE(cut.left, std::floor(std::max<std::int64_t>(part.left, 0) * rx));
                ASSERT_GE(cut.left + cut.image.width,
                          std::min(std::ceil((part.left + part.width) * rx), double(cut.scaled_width)));
                ASSERT_LT(cut.image.height * cut.image.width, whole.image.height * whole.image.width);
                const Image& a = cut.image;
                const Image& b = whole.image;
                for (std::int64_t c = 0; c < a.channels; ++c)
                    for (std::int64_t y = 0; y < a.height; ++y)
                        for (std::int64_t x = 0; x < a.width; ++x)
                            ASSERT_EQ(a.pixels[(c * a.height + y) * a.width + x],
                                      b.pixels[(c * b.height + y + cut.top) * b.width + x + cut.left])
                                << name << " 1/" << denominator << " part at " << part.top << "," << part.left
                                << " pixel " << c << "," << y << "," << x;
            }
}

// ---- the image tree and the streamed loader ----

// A tree of JPEGs and PNGs of assorted sizes and colour kinds, in three classes.
fs::path write_tree(const TempDir& dir) {
    const fs::path root = dir / "tree";
    const int sizes[][2] = {{96, 64}, {50, 120}, {33, 33}, {200, 150}, {64, 64}, {1, 1}};
    int n = 0;
    for (const char* split : {"train", "val"})
        for (const char* label : {"cat", "dog", "eel"})
            for (const auto& size : sizes) {
                const int w = size[0], h = size[1];
                const fs::path file = root / split / label / fmt::format("{:03}", n);
                const int kind = n++ % 4;
                if (kind == 0) write_jpeg(fs::path(file) += ".jpg", w, h, 3, smooth_rgb(w, h, n));
                if (kind == 1) write_jpeg(fs::path(file) += ".JPEG", w, h, 1, Bytes(w * h, std::uint8_t(30 + n)));
                if (kind == 2) write_jpeg(fs::path(file) += ".jpeg", w, h, 4, Bytes(w * h * 4, std::uint8_t(200)));
                if (kind == 3) {
                    const Bytes rgb = smooth_rgb(w, h, 2 * n);
                    write_png(fs::path(file) += ".png", w, h, PNG_FORMAT_RGB, rgb.data());
                }
            }
    return root;
}

Dataset streamed(const fs::path& root, Split split, std::int64_t size) {
    Dataset data = load_dataset("imagenet:" + root.string(), split);
    take_input_size(data, size, size);
    return data;
}

std::vector<std::vector<float>> epoch_images(const Dataset& data, LoaderOptions options, std::uint64_t epoch) {
    BatchLoader loader(data, options, epoch);
    std::vector<std::vector<float>> batches;
    weft::Tensor images, labels;
    std::int64_t count = 0;
    while (loader.next(images, labels, count)) {
        const float* p = images.as<float>();
        batches.emplace_back(p, p + images.numel());
    }
    return batches;
}

TEST(ImageTree, ListsEverySplitWithClassesFromBothAndNothingDecoded) {
    TempDir dir;
    const fs::path root = write_tree(dir);
    write_file(root / "train" / "cat" / ".hidden", {1, 2, 3});
    const Dataset train = load_dataset("imagenet:" + root.string(), Split::train);
    const Dataset val = load_dataset("imagenet:" + root.string(), Split::test);
    EXPECT_TRUE(train.streamed());
    EXPECT_EQ(train.size(), 18);
    EXPECT_EQ(val.size(), 18);
    EXPECT_EQ(train.class_names, (std::vector<std::string>{"cat", "dog", "eel"}));
    EXPECT_EQ(train.labels.front(), 0);
    EXPECT_EQ(train.labels.back(), 2);
    EXPECT_EQ(train.height, 0);  // until the network says
    EXPECT_TRUE(train.pixels.empty());
}

TEST(ImageTree, SlicesAndPrefixesKeepFilesAndLabelsTogether) {
    TempDir dir;
    const Dataset train = load_dataset("imagenet:" + write_tree(dir).string(), Split::train);
    const Dataset part = slice(train, 5, 11);
    ASSERT_EQ(part.size(), 6);
    EXPECT_EQ(part.files.front(), train.files[5]);
    EXPECT_EQ(part.labels.back(), train.labels[10]);
    EXPECT_EQ(part.class_names, train.class_names);
    EXPECT_EQ(first_n(train, 4).files.size(), 4u);
    EXPECT_THROW(slice(train, 3, 19), weft::Error);
}

TEST(ImageTree, ForeignFilesAndEmptyTreesAreRefusedNamingThem) {
    TempDir dir;
    const fs::path root = write_tree(dir);
    write_file(root / "train" / "dog" / "notes.txt", {'h', 'i'});
    expect_error([&] { load_dataset("imagenet:" + root.string(), Split::train); }, {"notes.txt", "not a .jpg"});
    fs::create_directories(dir / "empty" / "train" / "a");
    expect_error([&] { load_dataset("imagenet:" + (dir / "empty").string(), Split::train); }, {"no images"});
    expect_error([&] { load_dataset("imagenet:" + (dir / "none").string(), Split::train); }, {"no such directory"});
}

TEST(StreamedLoader, AnyNumberOfWorkersGivesTheOneWorkerBatchesBitForBit) {
    TempDir dir;
    const Dataset data = streamed(write_tree(dir), Split::train, 24);
    LoaderOptions options;
    options.batch = 5;  // 18 images: a partial last batch
    options.shuffle = true;
    options.seed = 9;
    options.augment.random_resized_crop = true;
    options.augment.horizontal_flip = true;
    options.normalization = {{0.5f, 0.4f, 0.3f}, {0.2f, 0.25f, 0.3f}};
    options.workers = 1;
    const auto plain = epoch_images(data, options, 2);
    ASSERT_EQ(plain.size(), 4u);
    for (int workers : {2, 5, 8}) {
        options.workers = workers;
        options.prefetch = workers == 8 ? 1 : 3;
        EXPECT_EQ(epoch_images(data, options, 2), plain) << workers << " workers";
    }
    options.workers = 3;
    EXPECT_NE(epoch_images(data, options, 3), plain) << "another epoch, other crops";
    options.first_batch = 2;  // resumed part-way: the rest of the epoch as before
    const auto resumed = epoch_images(data, options, 2);
    ASSERT_EQ(resumed.size(), 2u);
    EXPECT_EQ(resumed[0], plain[2]);
    EXPECT_EQ(resumed[1], plain[3]);
}

TEST(StreamedLoader, DecodingOnlyThePartTheFilterReadsGivesTheSameSamplesBitForBit) {
    TempDir dir;
    const Dataset data = streamed(write_tree(dir), Split::train, 24);
    LoaderOptions options;
    options.batch = 6;
    options.shuffle = true;
    options.augment.random_resized_crop = true;
    options.augment.horizontal_flip = true;
    options.workers = 2;
    for (bool scaled : {false, true}) {
        options.augment.scaled_decode = scaled;
        options.augment.partial_decode = false;
        const auto whole = epoch_images(data, options, 1);
        options.augment.partial_decode = true;
        EXPECT_EQ(epoch_images(data, options, 1), whole) << (scaled ? "scaled" : "unscaled");
        options.augment.random_resized_crop = false;  // and the evaluation view
        options.augment.partial_decode = false;
        const auto centre = epoch_images(data, options, 1);
        options.augment.partial_decode = true;
        EXPECT_EQ(epoch_images(data, options, 1), centre);
        options.augment.random_resized_crop = true;
    }
}

TEST(StreamedLoader, EvaluationIsTheNormalisedCentreCropOfEachImage) {
    TempDir dir;
    const int w = 40, h = 30;
    const Bytes gray(w * h, 0);
    Bytes rgb = smooth_rgb(w, h, 5);
    write_png(dir / "t/train/a/0.png", w, h, PNG_FORMAT_RGB, rgb.data());
    Bytes ramp(w * h);
    for (int i = 0; i < w * h; ++i) ramp[i] = static_cast<std::uint8_t>(i % 251);
    write_png(dir / "t/train/b/1.png", w, h, PNG_FORMAT_GRAY, ramp.data());
    const Dataset data = streamed(dir / "t", Split::train, 16);
    LoaderOptions options;
    options.batch = 2;
    options.normalization = {{0.5f, 0.25f, 0.125f}, {0.5f, 0.5f, 0.25f}};
    const auto batches = epoch_images(data, options, 0);
    ASSERT_EQ(batches.size(), 1u);
    const CropBox box = centre_crop(h, w, 16, 16, 0.875);
    const std::int64_t plane = 16 * 16;
    std::vector<float> expected(3 * plane);
    resample(planar_from_interleaved(rgb, 3).data(), 3, h, w, box, 16, 16, false, expected.data());
    std::vector<float> gray_plane(plane);
    resample(ramp.data(), 1, h, w, box, 16, 16, false, gray_plane.data());
    for (int c = 0; c < 3; ++c)
        for (std::int64_t i = 0; i < plane; ++i) {
            const float mean = options.normalization.mean[c], deviation = options.normalization.std[c];
            EXPECT_NEAR(batches[0][c * plane + i], (expected[c * plane + i] / 255 - mean) / deviation, 1e-5);
            EXPECT_NEAR(batches[0][(3 + c) * plane + i], (gray_plane[i] / 255 - mean) / deviation, 1e-5)
                << "a gray file is the same plane in every channel";
        }
}

TEST(StreamedLoader, CorruptTinyAndHugeClaimedFilesAreOneLineErrorsNamingTheFile) {
    TempDir dir;
    write_jpeg(dir / "t/train/a/good.jpg", 48, 40, 3, smooth_rgb(48, 40, 0));
    Bytes truncated = read_bytes(dir / "t/train/a/good.jpg");
    truncated.resize(truncated.size() / 2);
    Bytes huge = read_bytes(dir / "t/train/a/good.jpg");
    for (std::size_t i = 0; i + 8 < huge.size(); ++i)
        if (huge[i] == 0xff && huge[i + 1] == 0xc0) {  // SOF0: length, precision, height, width
            huge[i + 5] = huge[i + 7] = 0xea;  // 60000×60000
            huge[i + 6] = huge[i + 8] = 0x60;
            break;
        }
    LoaderOptions options;
    options.batch = 1;
    options.workers = 2;
    for (const auto& [name, bytes] : std::vector<std::pair<std::string, Bytes>>{
             {"truncated.jpg", truncated}, {"huge.jpg", huge}, {"empty.png", {}}, {"text.jpg", {'h', 'i'}}}) {
        const fs::path root = dir / name;
        write_file(root / "train" / "a" / name, bytes);
        const Dataset data = streamed(root, Split::train, 16);
        expect_error([&] { epoch_images(data, options, 0); }, {name});
    }
}

TEST(StreamedLoader, StatisticsComeFromTheEvaluationViewOfASample) {
    TempDir dir;
    for (int i = 0; i < 6; ++i) {
        const Bytes pixels(20 * 10 * 3, std::uint8_t(i % 2 ? 200 : 100));
        write_png(dir / fmt::format("t/train/c{}/{}.png", i % 3, i), 20, 10, PNG_FORMAT_RGB, pixels.data());
    }
    const Dataset data = streamed(dir / "t", Split::train, 8);
    const Normalization all = channel_statistics(data);
    for (int c = 0; c < 3; ++c) {
        EXPECT_NEAR(all.mean[c], 150.0 / 255, 1e-4);
        EXPECT_NEAR(all.std[c], 50.0 / 255, 1e-4);
    }
    // Two of six, evenly spaced in the sorted list c0/0 c0/3 c1/1 c1/4 c2/2 c2/5: 0.png and 4.png,
    // both 100.
    const Normalization two = channel_statistics(data, 2);
    EXPECT_NEAR(two.mean[0], 100.0 / 255, 1e-4);
    EXPECT_EQ(two.std[0], 1.0f) << "a constant channel normalises by 1";
}

}  // namespace
