// Sequential reading of a file that may be gzip- or xz-compressed, told apart by its first bytes,
// so that every reader accepts raw and compressed files alike without temporary files.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace weft::datasets {

class ByteStream {
public:
    explicit ByteStream(const std::filesystem::path& file);
    ~ByteStream();
    ByteStream(const ByteStream&) = delete;
    ByteStream& operator=(const ByteStream&) = delete;

    // Up to n bytes; fewer only at the end of the data. Corrupt or truncated compressed data
    // is a weft::Error.
    std::size_t read(std::uint8_t* destination, std::size_t n);

    // Appends exactly n bytes to out, growing it only as data arrives, so a header that
    // promises more than the file holds costs no more memory than the file itself.
    // Returns the number appended (less than n only at the end of the data).
    std::size_t append(std::vector<std::uint8_t>& out, std::uint64_t n);

    bool at_end();  // true when no byte is left (reads ahead one byte at most)

    // The size of the data when the file is not compressed, so readers can validate before
    // reading; compressed sizes are only known once decompressed.
    std::optional<std::uint64_t> raw_size() const { return raw_size_; }
    const std::filesystem::path& path() const { return path_; }
    std::string where() const { return path_.string(); }

private:
    enum class Kind { raw, gzip, xz };
    struct Xz;

    std::size_t read_xz(std::uint8_t* destination, std::size_t n);

    std::filesystem::path path_;
    Kind kind_ = Kind::raw;
    std::FILE* file_ = nullptr;
    void* gz_ = nullptr;  // gzFile
    std::unique_ptr<Xz> xz_;
    std::optional<std::uint64_t> raw_size_;
    std::optional<std::uint8_t> peeked_;
};

// Whole small file (an image), refusing anything larger than limit bytes.
std::vector<std::uint8_t> read_file(const std::filesystem::path& file, std::uint64_t limit);

}  // namespace weft::datasets
