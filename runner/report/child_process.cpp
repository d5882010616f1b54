#include "weft/report/child_process.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "posix_file.h"
#include "weft/error.h"

namespace weft::report {

namespace {

std::string read_until_closed(int fd) {
    std::string reply;
    char buffer[1 << 16];
    for (;;) {
        const ssize_t r = ::read(fd, buffer, sizeof buffer);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        reply.append(buffer, static_cast<std::size_t>(r));
    }
    return reply;
}

}  // namespace

std::string run_in_child_process(const std::function<std::string()>& work,
                                 const std::function<std::string(const std::string& how_it_ended)>& on_crash) {
    int fds[2];
    if (::pipe(fds) != 0) throw Error(fmt::format("cannot create a pipe: {}", std::strerror(errno)));
    const pid_t child = ::fork();
    if (child < 0) {
        const int err = errno;
        ::close(fds[0]);
        ::close(fds[1]);
        throw Error(fmt::format("cannot fork: {}", std::strerror(err)));
    }
    if (child == 0) {
        ::close(fds[0]);
        // First byte: 'O' then the result, or 'E' then an error message.
        try {
            const std::string out = work();
            write_all(fds[1], "O");
            write_all(fds[1], out);
        } catch (const std::exception& e) {
            write_all(fds[1], "E");
            write_all(fds[1], e.what());
        }
        ::_exit(0);
    }
    ::close(fds[1]);
    const std::string reply = read_until_closed(fds[0]);
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || reply.empty())
        throw Error(on_crash(WIFSIGNALED(status) ? std::string("signal ") + strsignal(WTERMSIG(status)) : "no output"));
    if (reply[0] == 'E') throw Error(reply.substr(1));
    return reply.substr(1);
}

}  // namespace weft::report
