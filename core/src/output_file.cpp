#include "weft/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include <fmt/format.h>

#include "weft/error.h"

namespace weft {
namespace fs = std::filesystem;

namespace {

std::string file_kind(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

// Twelve characters from [a-z0-9]: 62 bits, so a name planted in advance is never the one chosen,
// and O_EXCL makes a collision a retry, not an overwrite.
std::string random_suffix() {
    static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::random_device device;
    std::string s(12, 'x');
    for (char& c : s) c = kAlphabet[device() % 36];
    return s;
}

}  // namespace

bool write_all(int fd, const void* data, std::size_t bytes) {
    const char* p = static_cast<const char*>(data);
    while (bytes > 0) {
        const ssize_t n = ::write(fd, p, bytes);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) errno = EIO;
        if (n <= 0) return false;
        p += n;
        bytes -= static_cast<std::size_t>(n);
    }
    return true;
}

void check_output_target(const fs::path& target) {
    struct stat st {};
    if (::stat(target.c_str(), &st) != 0) {
        if (errno == ENOENT) {
            struct stat link {};
            // A dangling link: rename would replace the link, which is fine; anything else is not.
            if (::lstat(target.c_str(), &link) == 0 || errno == ENOENT) return;
        }
        throw Error(fmt::format("{}: cannot write: {}", target.string(), std::strerror(errno)));
    }
    if (!S_ISREG(st.st_mode))
        throw Error(fmt::format("{}: exists and is {}; weft writes only regular files", target.string(),
                                file_kind(st.st_mode)));
}

OutputFile::OutputFile(fs::path target) : target_(std::move(target)) {
    check_output_target(target_);
    for (int attempt = 0; attempt < 100; ++attempt) {
        temporary_ = target_;
        temporary_ += ".tmp-" + random_suffix();
        fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd_ >= 0 || errno != EEXIST) break;
    }
    if (fd_ < 0) {
        const int err = errno;
        temporary_.clear();
        throw Error(fmt::format("{}: cannot write: {}", target_.string(), std::strerror(err)));
    }
}

OutputFile::~OutputFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && !temporary_.empty()) ::unlink(temporary_.c_str());
}

void OutputFile::fail(const char* what, int err) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!temporary_.empty()) ::unlink(temporary_.c_str());
    temporary_.clear();
    throw Error(fmt::format("{}: {}: {}", target_.string(), what, std::strerror(err)));
}

void OutputFile::write(const void* data, std::size_t bytes) {
    if (fd_ < 0) throw Error(fmt::format("{}: write after the file was closed", target_.string()));
    if (!write_all(fd_, data, bytes)) fail("cannot write", errno);
    bytes_ += bytes;
}

void OutputFile::commit() {
    if (fd_ < 0) throw Error(fmt::format("{}: commit after the file was closed", target_.string()));
    if (::fsync(fd_) != 0) fail("cannot write", errno);
    // close() can report a deferred write error (NFS), so it is checked like the writes.
    const int closed = ::close(fd_);
    fd_ = -1;
    if (closed != 0) fail("cannot write", errno);
    // The target may have become something else since the check (a FIFO made meanwhile).
    check_output_target(target_);
    if (::rename(temporary_.c_str(), target_.c_str()) != 0) fail("cannot replace", errno);
    committed_ = true;
    sync_parent_directory(target_);
}

void write_file_atomically(const fs::path& target, std::string_view content) {
    OutputFile out(target);
    out.write(content);
    out.commit();
}

void sync_parent_directory(const fs::path& path) {
    const fs::path dir = path.has_parent_path() ? path.parent_path() : ".";
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        throw Error(
            fmt::format("{}: cannot open directory to sync it: {}", dir.string(), std::strerror(errno)));
    const int result = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (result != 0 && err != EINVAL)
        throw Error(fmt::format("{}: cannot sync directory: {}", dir.string(), std::strerror(err)));
}

}  // namespace weft
