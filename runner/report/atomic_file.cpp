#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "posix_file.h"
#include "weft/error.h"
#include "weft/report/files.h"

namespace weft::report {

namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const char* what, int err) {
    throw Error(fmt::format("{}: {}: {}", path.string(), what, std::strerror(err)));
}

}  // namespace

bool write_all(int fd, std::string_view content) {
    while (!content.empty()) {
        const ssize_t n = ::write(fd, content.data(), content.size());
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) errno = EIO;
        if (n <= 0) return false;
        content.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

void sync_parent_directory(const std::filesystem::path& path) {
    const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail(dir, "cannot open directory to sync it", errno);
    const int result = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    // Some file systems cannot fsync a directory (EINVAL); there is nothing more to do on those.
    if (result != 0 && err != EINVAL) fail(dir, "cannot sync directory", err);
}

std::string read_whole_file(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(path, "cannot read", errno);
    std::string text;
    char buffer[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            fail(path, "cannot read", err);
        }
        if (n == 0) break;
        text.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return text;
}

void write_file_atomic(const std::filesystem::path& path, std::string_view content) {
    std::filesystem::path temp = path;
    temp += fmt::format(".tmp-{}", ::getpid());
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) fail(path, "cannot write", errno);
    const auto abandon = [&](const char* what, int err) {
        ::unlink(temp.c_str());
        fail(path, what, err);
    };
    if (!write_all(fd, content) || ::fsync(fd) != 0) {
        const int err = errno;
        ::close(fd);
        abandon("cannot write", err);
    }
    // close() can report a deferred write error (NFS), so it is checked like the writes.
    if (::close(fd) != 0) abandon("cannot write", errno);
    if (::rename(temp.c_str(), path.c_str()) != 0) abandon("cannot replace", errno);
    sync_parent_directory(path);
}

}  // namespace weft::report
