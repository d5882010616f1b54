#include "weft/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "weft/error.h"

namespace weft {
namespace fs = std::filesystem;

namespace {

std::string_view kind_of(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a plain file";
}

}  // namespace

FilePtr open_regular_file(const fs::path& path, std::uint64_t* size) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw Error(fmt::format("{}: cannot open: {}", path.string(), std::strerror(errno)));
    struct stat status {};
    if (::fstat(fd, &status) != 0) {
        const int error = errno;
        ::close(fd);
        throw Error(fmt::format("{}: cannot examine: {}", path.string(), std::strerror(error)));
    }
    if (!S_ISREG(status.st_mode)) {
        ::close(fd);
        throw Error(fmt::format("{}: is {}, not a regular file", path.string(), kind_of(status.st_mode)));
    }
    // A regular file never blocks a read anyway; clearing the flag keeps stdio's reads ordinary.
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    std::FILE* file = ::fdopen(fd, "rb");
    if (!file) {
        const int error = errno;
        ::close(fd);
        throw Error(fmt::format("{}: cannot open: {}", path.string(), std::strerror(error)));
    }
    if (size) *size = static_cast<std::uint64_t>(status.st_size);
    return FilePtr(file);
}

std::string read_whole_file(const fs::path& path, std::uint64_t max_bytes, std::string_view what) {
    std::uint64_t size = 0;
    const FilePtr file = open_regular_file(path, &size);
    if (size > max_bytes)
        throw Error(fmt::format("{}: {} bytes, more than the {} allowed for {}", path.string(), size, max_bytes, what));
    // Read at most the size seen: a file that grows meanwhile cannot take more than was allowed.
    std::string text(size, '\0');
    text.resize(std::fread(text.data(), 1, text.size(), file.get()));
    if (std::ferror(file.get())) throw Error(fmt::format("{}: read error", path.string()));
    return text;
}

}  // namespace weft
