// Files from outside may lie in their headers, never end, or block: what a header claims is checked
// against the file and against what is needed before anything is allocated for it, only regular
// files are read, and text is read only up to a bound. Memory is measured by running each load in
// a child whose address space may grow by a small budget only (bounded_child.h): a reader that
// believed the header would run out of it instead of reporting the lie.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include "bounded_child.h"
#include "cli_harness.h"
#include "weft/datasets/dataset.h"
#include "weft/datasets/image.h"
#include "weft/error.h"
#include "weft/graph_file.h"
#include "weft/npy.h"
#include "weft/weights.h"

namespace fs = std::filesystem;
using weft::testing::ChildOutcome;
using Bytes = std::vector<std::uint8_t>;

namespace {

constexpr std::size_t kBudget = 64u << 20;  // far below what any of the lies below claims
constexpr unsigned kSeconds = 20;

const fs::path& work_dir() {
    static const weft::testing::ScratchDirectory dir("weft_hostile_files_test");
    return dir.path();
}

fs::path write_file(const fs::path& name, const Bytes& bytes) {
    const fs::path p = work_dir() / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                             static_cast<std::streamsize>(bytes.size()));
    return p;
}

Bytes read_bytes(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
}

fs::path make_fifo(const fs::path& name) {
    const fs::path p = work_dir() / name;
    fs::create_directories(p.parent_path());
    fs::remove(p);
    EXPECT_EQ(::mkfifo(p.c_str(), 0600), 0) << p;
    return p;
}

// The load ended in a weft::Error containing every one of `parts`, within the budget and time.
::testing::AssertionResult refused_within_budget(const std::function<void()>& load,
                                                 std::initializer_list<std::string> parts) {
    const ChildOutcome outcome = weft::testing::run_in_bounded_child(kBudget, kSeconds, load);
    if (outcome.ending != ChildOutcome::Ending::weft_error)
        return ::testing::AssertionFailure() << "expected a weft::Error, got " << weft::testing::describe(outcome);
    for (const std::string& part : parts)
        if (outcome.message.find(part) == std::string::npos)
            return ::testing::AssertionFailure() << "the error lacks [" << part << "]: " << outcome.message;
    if (outcome.message.find('\n') != std::string::npos)
        return ::testing::AssertionFailure() << "not one line: " << outcome.message;
    return ::testing::AssertionSuccess();
}

// A .npy header (version 1.0) for float32 data of `shape`, followed by `data_bytes` zero bytes.
Bytes npy_file(const std::string& shape, std::size_t data_bytes) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape + "), }";
    header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
    header += '\n';
    Bytes bytes{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<std::uint8_t>(header.size() & 0xff),
                static_cast<std::uint8_t>(header.size() >> 8)};
    for (const char c : header) bytes.push_back(static_cast<std::uint8_t>(c));
    bytes.resize(bytes.size() + data_bytes, 0);
    return bytes;
}

void put_be32(Bytes& bytes, std::size_t at, std::uint32_t value) {
    for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<std::uint8_t>(value >> (24 - 8 * i));
}

// A valid 8x8 gray PNG whose IHDR then claims width x height (its CRC fixed, so libpng believes it).
Bytes png_claiming(std::uint32_t width, std::uint32_t height) {
    const fs::path file = work_dir() / "small.png";
    Bytes gray(64, 128);
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    image.width = 8;
    image.height = 8;
    image.format = PNG_FORMAT_GRAY;
    EXPECT_TRUE(png_image_write_to_file(&image, file.c_str(), 0, gray.data(), 0, nullptr)) << image.message;
    Bytes png = read_bytes(file);
    // signature (8), IHDR length (4), "IHDR" (4), width, height, ...; the CRC covers type and data.
    put_be32(png, 16, width);
    put_be32(png, 20, height);
    put_be32(png, 29, static_cast<std::uint32_t>(crc32(0, png.data() + 12, 17)));
    return png;
}

// A small progressive RGB JPEG whose frame header then claims width x height.
Bytes progressive_jpeg_claiming(std::uint16_t width, std::uint16_t height) {
    const fs::path file = work_dir() / "small.jpg";
    std::FILE* out = std::fopen(file.c_str(), "wb");
    jpeg_compress_struct cinfo{};
    jpeg_error_mgr error{};
    cinfo.err = jpeg_std_error(&error);
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, out);
    cinfo.image_width = 16;
    cinfo.image_height = 16;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    Bytes row(16 * 3, 90);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW pointer = row.data();
        jpeg_write_scanlines(&cinfo, &pointer, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    std::fclose(out);
    Bytes jpeg = read_bytes(file);
    for (std::size_t i = 0; i + 8 < jpeg.size(); ++i)
        if (jpeg[i] == 0xff && jpeg[i + 1] == 0xc2) {  // SOF2: length, precision, height, width
            jpeg[i + 5] = static_cast<std::uint8_t>(height >> 8), jpeg[i + 6] = static_cast<std::uint8_t>(height);
            jpeg[i + 7] = static_cast<std::uint8_t>(width >> 8), jpeg[i + 8] = static_cast<std::uint8_t>(width);
            return jpeg;
        }
    ADD_FAILURE() << "no SOF2 marker in the progressive JPEG";
    return jpeg;
}

}  // namespace

// ---- headers that claim more than the file holds ----------------------------------------------

// A 1 KB .npy whose header claims 768 MB: refused from the header and the file size.
TEST(HostileFiles, NpyHeaderClaimingMoreThanTheFileHoldsIsRefusedBeforeAllocating) {
    const fs::path npy = write_file("claims_768mb.npy", npy_file("1, 3, 8000, 8000", 900));
    EXPECT_TRUE(refused_within_budget([&] { weft::load_npy(npy); },
                                      {"claims_768mb.npy", "needs 768000000 bytes of data, the file holds 900"}));
}

// The caller's expectation (the graph's input shape) is asked before the data is read.
TEST(HostileFiles, NpyOfAnotherShapeThanExpectedIsRefusedBeforeReadingItsData) {
    const fs::path npy = write_file("other_shape.npy", npy_file("2, 3", 24));
    bool asked = false;
    try {
        weft::load_npy(npy, nullptr, [&](const weft::Shape& shape) {
            asked = true;
            EXPECT_EQ(shape, (weft::Shape{2, 3}));
            throw weft::Error("not what the graph takes");
        });
        ADD_FAILURE() << "expected the shape check's error";
    } catch (const weft::Error& e) {
        EXPECT_STREQ(e.what(), "not what the graph takes");
    }
    EXPECT_TRUE(asked);
}

// A 1 MB PNG claiming 32768 x 32768 (1 GiB decoded): over the decoded-size limit.
TEST(HostileFiles, PngClaimingAHugeImageIsRefusedBeforeDecoding) {
    Bytes png = png_claiming(32768, 32768);
    png.resize(1 << 20, 0);
    const fs::path huge = write_file("huge.png", png);
    EXPECT_TRUE(refused_within_budget([&] { weft::datasets::read_image(huge); },
                                      {"huge.png", "32768x32768 image is larger than"}));
}

// 20000 x 5000 gray is within the decoded limit, but no deflate stream of a few hundred bytes
// expands to 100 MB of rows.
TEST(HostileFiles, PngClaimingMoreRowsThanItsDataCanHoldIsRefusedBeforeDecoding) {
    const fs::path liar = write_file("liar.png", png_claiming(20000, 5000));
    EXPECT_TRUE(refused_within_budget([&] { weft::datasets::read_image(liar); },
                                      {"liar.png", "the header claims a 20000x5000 image",
                                       "more than a file of its size can hold"}));
}

// A JPEG of a few hundred bytes claiming 60000 x 60000: libjpeg would allocate every block's
// coefficients (progressive) before reading a scan. That size is over the decoded limit; 3000 x
// 3000 is within it, and refused because so few bytes cannot code that many blocks.
TEST(HostileFiles, JpegClaimingMoreBlocksThanItsDataCanHoldIsRefusedBeforeDecoding) {
    const fs::path liar = write_file("liar.jpg", progressive_jpeg_claiming(60000, 60000));
    EXPECT_TRUE(refused_within_budget([&] { weft::datasets::read_image(liar); },
                                      {"liar.jpg", "60000x60000 image is larger than"}));
    const fs::path small = write_file("small_claim.jpg", progressive_jpeg_claiming(3000, 3000));
    EXPECT_TRUE(refused_within_budget([&] { weft::datasets::read_image(small); },
                                      {"small_claim.jpg", "8x8 blocks", "more than a file of its size can hold"}));
}

// The size a graph takes (or the first image of a dataset) is compared with the header.
TEST(HostileFiles, AnImageOfAnotherSizeThanExpectedIsRefusedFromItsHeader) {
    const fs::path liar = write_file("big_for_graph.png", png_claiming(4000, 4000));
    EXPECT_TRUE(refused_within_budget(
        [&] { weft::datasets::read_image(liar, weft::datasets::ImageSize{32, 32, "the input of graph 'tiny'"}); },
        {"big_for_graph.png: 4000x4000 image, but the input of graph 'tiny' is 32x32"}));
}

// ---- files that are not files -----------------------------------------------------------------

// Opening a FIFO blocks until someone writes to it: each reader refuses it without opening it.
TEST(HostileFiles, FifosAreRefusedByEveryReaderWithoutWaiting) {
    const fs::path fifo = make_fifo("pipe.bin");
    const auto refused = [&](const std::function<void()>& load) { return refused_within_budget(load, {"pipe.bin", "a FIFO"}); };
    EXPECT_TRUE(refused([&] { weft::load_npy(fifo); }));
    EXPECT_TRUE(refused([&] { weft::load_safetensors(fifo); }));
    EXPECT_TRUE(refused([&] { weft::datasets::read_image(fifo); }));
    EXPECT_TRUE(refused([&] { weft::load_graph_file(fifo); }));
}

// An image folder with a FIFO among its images used to hang for ever.
TEST(HostileFiles, AFifoInsideAnImageFolderDatasetIsRefused) {
    Bytes gray(16, 7);
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    image.width = 4;
    image.height = 4;
    image.format = PNG_FORMAT_GRAY;
    fs::create_directories(work_dir() / "folder/cat");
    ASSERT_TRUE(png_image_write_to_file(&image, (work_dir() / "folder/cat/1.png").c_str(), 0, gray.data(), 0, nullptr));
    make_fifo("folder/cat/2.png");
    const std::string spec = "folder:" + (work_dir() / "folder").string();
    EXPECT_TRUE(refused_within_budget([&] { weft::datasets::load_dataset(spec, weft::datasets::Split::train); },
                                      {"2.png", "a FIFO, not a regular file"}));
}

// A class-names file that is /dev/zero (behind a symlink) or far larger than any list of names.
TEST(HostileFiles, ClassNameFilesAreRegularFilesOfBoundedLength) {
    const fs::path dir = work_dir() / "cifar10";
    Bytes records;
    for (int i = 0; i < 2; ++i) {
        records.push_back(static_cast<std::uint8_t>(i));
        records.resize(records.size() + 3072, 5);
    }
    write_file("cifar10/test_batch.bin", records);
    const fs::path names = dir / "batches.meta.txt";
    fs::create_symlink("/dev/zero", names);
    const auto load = [&] { weft::datasets::load_dataset("cifar10:" + dir.string(), weft::datasets::Split::test); };
    EXPECT_TRUE(refused_within_budget(load, {"batches.meta.txt", "a character device, not a regular file"}));
    fs::remove(names);
    write_file("cifar10/batches.meta.txt", Bytes(3u << 20, 'a'));
    EXPECT_TRUE(refused_within_budget(load, {"batches.meta.txt", "more than the 1048576 allowed"}));
}

// ---- through the command line -----------------------------------------------------------------

// `weft run` with a FIFO as its input, weights or graph answers at once instead of blocking.
TEST(HostileFiles, TheCommandRefusesFifosAsInputWeightsAndGraph) {
    const fs::path fifo = make_fifo("cli_pipe.npy");
    for (const std::string& args : {"run igc-l24m2-d8 --input " + fifo.string(),
                                    "run igc-l24m2-d8 --weights " + fifo.string(), "check " + fifo.string()}) {
        const auto r = weft::testing::run_weft(args, work_dir(), {.timeout_seconds = 30});
        EXPECT_EQ(r.status, 2) << args << ": " << r.err;
        EXPECT_NE(r.err.find("cli_pipe.npy: is a FIFO, not a regular file"), std::string::npos) << args << ": " << r.err;
    }
}

TEST(HostileFiles, ThreadCountsBeyondTheMachineAreOneLineErrors) {
    const auto r = weft::testing::run_weft("run igc-l24m2-d8 --threads 100000", work_dir());
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("--threads"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("is not a thread count from 0"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
}
