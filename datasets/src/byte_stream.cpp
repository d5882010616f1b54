#include "byte_stream.h"

#include <unistd.h>

#include <weft/error.h>
#include <weft/input_file.h>

#include <fmt/format.h>
#include <lzma.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace weft::datasets {
namespace {

constexpr std::array<std::uint8_t, 2> gzip_magic{0x1f, 0x8b};
constexpr std::array<std::uint8_t, 6> xz_magic{0xfd, '7', 'z', 'X', 'Z', 0x00};
// xz -9 needs 65 MiB to decode; anything far beyond that is not a dataset file.
constexpr std::uint64_t xz_memory_limit = 512ull << 20;
constexpr std::size_t chunk = 1 << 20;

std::string lzma_problem(lzma_ret ret) {
    switch (ret) {
    case LZMA_MEM_ERROR: return "out of memory";
    case LZMA_MEMLIMIT_ERROR: return "needs more than 512 MiB to decompress";
    case LZMA_FORMAT_ERROR: return "not an xz file";
    case LZMA_OPTIONS_ERROR: return "unsupported xz options";
    case LZMA_DATA_ERROR: return "corrupt xz data";
    case LZMA_BUF_ERROR: return "truncated xz data";
    default: return fmt::format("xz error {}", static_cast<int>(ret));
    }
}

}  // namespace

struct ByteStream::Xz {
    lzma_stream stream = LZMA_STREAM_INIT;
    std::vector<std::uint8_t> input = std::vector<std::uint8_t>(chunk);
    bool input_done = false;
    bool finished = false;
    ~Xz() { lzma_end(&stream); }
};

ByteStream::ByteStream(const std::filesystem::path& file) : path_(file) {
    std::uint64_t size = 0;
    file_ = open_regular_file(file, &size).release();  // a FIFO is refused, not waited on

    std::array<std::uint8_t, 6> head{};
    std::size_t got = std::fread(head.data(), 1, head.size(), file_);
    if (got >= gzip_magic.size() && std::equal(gzip_magic.begin(), gzip_magic.end(), head.begin())) {
        kind_ = Kind::gzip;
    } else if (got == xz_magic.size() && head == xz_magic) {
        kind_ = Kind::xz;
    }
    if (kind_ == Kind::gzip) {
        // zlib reads the descriptor already examined, not the name again.
        std::rewind(file_);
        const int fd = ::dup(fileno(file_));
        std::fclose(file_);
        file_ = nullptr;
        if (fd >= 0) gz_ = gzdopen(fd, "rb");
        if (!gz_) {
            if (fd >= 0) ::close(fd);
            throw Error(fmt::format("{}: cannot open: {}", where(), std::strerror(errno)));
        }
        gzbuffer(static_cast<gzFile>(gz_), 256 << 10);
        return;
    }
    std::rewind(file_);
    if (kind_ == Kind::raw) {
        raw_size_ = size;
        return;
    }
    xz_ = std::make_unique<Xz>();
    lzma_ret ret = lzma_stream_decoder(&xz_->stream, xz_memory_limit, LZMA_CONCATENATED);
    if (ret != LZMA_OK) throw Error(fmt::format("{}: {}", where(), lzma_problem(ret)));
}

ByteStream::~ByteStream() {
    if (file_) std::fclose(file_);
    if (gz_) gzclose(static_cast<gzFile>(gz_));
}

std::size_t ByteStream::read(std::uint8_t* destination, std::size_t n) {
    std::size_t done = 0;
    if (peeked_ && n > 0) {
        destination[done++] = *peeked_;
        peeked_.reset();
    }
    while (done < n) {
        std::size_t want = std::min(n - done, std::size_t{1} << 30);
        std::size_t got = 0;
        if (kind_ == Kind::raw) {
            got = std::fread(destination + done, 1, want, file_);
            if (got < want && std::ferror(file_))
                throw Error(fmt::format("{}: read error: {}", where(), std::strerror(errno)));
        } else if (kind_ == Kind::gzip) {
            auto gz = static_cast<gzFile>(gz_);
            int ret = gzread(gz, destination + done, static_cast<unsigned>(want));
            int code = Z_OK;
            const char* message = gzerror(gz, &code);
            if (ret < 0 || (code != Z_OK && code != Z_STREAM_END)) {
                std::string problem = code == Z_BUF_ERROR ? "truncated gzip data"
                                                          : fmt::format("corrupt gzip data ({})", message);
                throw Error(fmt::format("{}: {}", where(), problem));
            }
            got = static_cast<std::size_t>(ret);
        } else {
            got = read_xz(destination + done, want);
        }
        done += got;
        if (got < want) break;
    }
    return done;
}

std::size_t ByteStream::read_xz(std::uint8_t* destination, std::size_t n) {
    Xz& xz = *xz_;
    if (xz.finished) return 0;
    xz.stream.next_out = destination;
    xz.stream.avail_out = n;
    while (xz.stream.avail_out > 0) {
        if (xz.stream.avail_in == 0 && !xz.input_done) {
            xz.stream.next_in = xz.input.data();
            xz.stream.avail_in = std::fread(xz.input.data(), 1, xz.input.size(), file_);
            if (std::ferror(file_))
                throw Error(fmt::format("{}: read error: {}", where(), std::strerror(errno)));
            xz.input_done = xz.stream.avail_in == 0;
        }
        lzma_ret ret = lzma_code(&xz.stream, xz.input_done ? LZMA_FINISH : LZMA_RUN);
        if (ret == LZMA_STREAM_END) {
            xz.finished = true;
            break;
        }
        if (ret != LZMA_OK) throw Error(fmt::format("{}: {}", where(), lzma_problem(ret)));
    }
    return n - xz.stream.avail_out;
}

std::size_t ByteStream::append(std::vector<std::uint8_t>& out, std::uint64_t n) {
    std::uint64_t done = 0;
    while (done < n) {
        // Steps double with the data read so far: little zero-filling for small files, few
        // reallocations for large ones.
        std::uint64_t step_limit = std::max<std::uint64_t>(chunk, done);
        if (raw_size_) step_limit = *raw_size_ + 1;  // the real size bounds what a raw file gives
        std::size_t step = static_cast<std::size_t>(std::min<std::uint64_t>(n - done, step_limit));
        std::size_t old = out.size();
        if (out.capacity() < old + step) out.reserve(std::max(old + step, out.capacity() * 2));
        out.resize(old + step);
        std::size_t got = read(out.data() + old, step);
        out.resize(old + got);
        done += got;
        if (got < step) break;
    }
    return static_cast<std::size_t>(done);
}

bool ByteStream::at_end() {
    if (peeked_) return false;
    std::uint8_t byte = 0;
    if (read(&byte, 1) == 0) return true;
    peeked_ = byte;
    return false;
}

std::vector<std::uint8_t> read_file(const std::filesystem::path& file, std::uint64_t limit) {
    std::uint64_t size = 0;
    const FilePtr handle = open_regular_file(file, &size);  // a FIFO is refused, not waited on
    if (size > limit)
        throw Error(fmt::format("{}: {} bytes, more than the {} allowed", file.string(), size, limit));
    std::vector<std::uint8_t> bytes(size);
    if (std::fread(bytes.data(), 1, bytes.size(), handle.get()) != bytes.size())
        throw Error(fmt::format("{}: read error", file.string()));
    return bytes;
}

}  // namespace weft::datasets
