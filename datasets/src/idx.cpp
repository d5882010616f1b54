// IDX files (MNIST, Fashion-MNIST): a big-endian magic (0x0000 08 <rank>), one 32-bit extent per
// dimension, then unsigned bytes. Images are [count, rows, cols], labels [count].
#include "byte_stream.h"
#include "readers.h"

#include <weft/error.h>

#include <fmt/format.h>

#include <array>

namespace weft::datasets {
namespace {

constexpr std::uint32_t image_magic = 0x00000803, label_magic = 0x00000801;
// No real IDX file comes near this; a header claiming more is hostile or corrupt.
constexpr std::uint64_t payload_limit = 1ull << 36;

struct IdxHeader {
    std::vector<std::uint64_t> extents;
    std::uint64_t payload = 1;  // product of the extents, in bytes
};

std::uint32_t big_endian(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

IdxHeader read_header(ByteStream& stream, std::uint32_t magic, const char* what) {
    const int rank = static_cast<int>(magic & 0xff);
    std::array<std::uint8_t, 4 + 3 * 4> bytes{};
    const std::size_t header_bytes = 4 + 4 * static_cast<std::size_t>(rank);
    std::size_t got = stream.read(bytes.data(), 4);
    std::uint32_t found = got == 4 ? big_endian(bytes.data()) : 0;
    if (got < 4 || found != magic)
        throw Error(fmt::format("{}: not an IDX {} file (magic 0x{:08x}, expected 0x{:08x})",
                                stream.where(), what, found, magic));
    if (stream.read(bytes.data() + 4, header_bytes - 4) != header_bytes - 4)
        throw Error(fmt::format("{}: truncated IDX header", stream.where()));
    IdxHeader header;
    for (int d = 0; d < rank; ++d) {
        std::uint64_t extent = big_endian(bytes.data() + 4 + 4 * d);
        if (d > 0 && extent == 0)
            throw Error(fmt::format("{}: image dimension {} is 0", stream.where(), d));
        header.extents.push_back(extent);
        header.payload *= extent;  // three 32-bit factors: at most 2^96, so check as we go
        if (header.payload > payload_limit)
            throw Error(fmt::format("{}: header claims more than {} bytes, not a real IDX {} file",
                                    stream.where(), payload_limit, what));
    }
    if (auto size = stream.raw_size(); size && *size != header_bytes + header.payload)
        throw Error(fmt::format("{}: {}: header says {} bytes of data, file holds {}", stream.where(),
                                *size < header_bytes + header.payload ? "truncated" : "trailing bytes",
                                header.payload, *size - header_bytes));
    return header;
}

// Reads exactly the payload the header promised: a compressed file cannot be checked up front.
void read_payload(ByteStream& stream, const IdxHeader& header, std::vector<std::uint8_t>& out) {
    std::size_t got = stream.append(out, header.payload);
    if (got < header.payload)
        throw Error(fmt::format("{}: truncated: header says {} bytes of data, file holds {}",
                                stream.where(), header.payload, got));
    if (!stream.at_end())
        throw Error(fmt::format("{}: trailing bytes after the {} bytes of data the header promised",
                                stream.where(), header.payload));
}

}  // namespace

Dataset load_idx(const std::filesystem::path& dir, Split split, std::string name,
                 std::vector<std::string> class_names) {
    const std::string prefix = split == Split::train ? "train" : "t10k";
    Dataset data;
    data.name = std::move(name);

    // gzip as published; xz, a fifth smaller, where the bytes are dear (the GPU check's bundle).
    ByteStream images(find_data_file(dir, prefix + "-images-idx3-ubyte", {".gz", ".xz"}));
    IdxHeader image_header = read_header(images, image_magic, "image");
    ByteStream labels(find_data_file(dir, prefix + "-labels-idx1-ubyte", {".gz", ".xz"}));
    IdxHeader label_header = read_header(labels, label_magic, "label");
    if (image_header.extents[0] != label_header.extents[0])
        throw Error(fmt::format("{}: {} labels for the {} images of {}", labels.where(),
                                label_header.extents[0], image_header.extents[0], images.where()));

    data.channels = 1;
    data.height = static_cast<std::int64_t>(image_header.extents[1]);
    data.width = static_cast<std::int64_t>(image_header.extents[2]);
    read_payload(images, image_header, data.pixels);

    std::vector<std::uint8_t> label_bytes;
    read_payload(labels, label_header, label_bytes);
    data.labels.reserve(label_bytes.size());
    for (std::size_t i = 0; i < label_bytes.size(); ++i) {
        if (label_bytes[i] >= class_names.size())
            throw Error(fmt::format("{}: label {} of image {} outside 0..{}", labels.where(),
                                    label_bytes[i], i, class_names.size() - 1));
        data.labels.push_back(label_bytes[i]);
    }
    data.class_names = std::move(class_names);
    return data;
}

}  // namespace weft::datasets
