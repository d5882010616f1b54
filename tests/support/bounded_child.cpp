#include "bounded_child.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <new>

#include "weft/error.h"

namespace weft::testing {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSpaceIsMeaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSpaceIsMeaningful = false;
#else
constexpr bool kAddressSpaceIsMeaningful = true;
#endif
#else
constexpr bool kAddressSpaceIsMeaningful = true;
#endif

void limit_address_space(std::size_t budget) {
    std::size_t pages = 0;
    std::ifstream("/proc/self/statm") >> pages;  // the first field: the whole address space, in pages
    const std::size_t now = pages * static_cast<std::size_t>(::sysconf(_SC_PAGE_SIZE));
    const rlimit limit{now + budget, now + budget};
    ::setrlimit(RLIMIT_AS, &limit);
}

void write_all(int fd, const std::string& text) {
    for (std::size_t done = 0; done < text.size();) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
    }
}

// The child's report: one letter for how the body ended, then the message.
[[noreturn]] void run_child(int report_fd, std::size_t budget, unsigned seconds, const std::function<void()>& body) {
    ::alarm(seconds);
    if (kAddressSpaceIsMeaningful) limit_address_space(budget);
    std::string report;
    try {
        body();
        report = "R";
    } catch (const weft::Error& e) {
        report = std::string("E") + e.what();
    } catch (const std::bad_alloc&) {
        report = "M";
    } catch (const std::exception& e) {
        report = std::string("X") + e.what();
    } catch (...) {
        report = "Xan exception that is not a std::exception";
    }
    write_all(report_fd, report);
    ::_exit(0);
}

}  // namespace

ChildOutcome run_in_bounded_child(std::size_t memory_budget_bytes, unsigned seconds, const std::function<void()>& body) {
    int fds[2];
    if (::pipe(fds) != 0) return {ChildOutcome::Ending::killed, "pipe() failed"};
    std::fflush(nullptr);  // nothing buffered may be written twice
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        run_child(fds[1], memory_budget_bytes, seconds, body);
    }
    ::close(fds[1]);
    std::string report;
    char buffer[4096];
    for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) report.append(buffer, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) return {ChildOutcome::Ending::killed, "killed by signal " + std::to_string(WTERMSIG(status))};
    if (report.empty()) return {ChildOutcome::Ending::killed, "the child ended without a report"};
    const std::string message = report.substr(1);
    switch (report[0]) {
        case 'R': return {ChildOutcome::Ending::returned, message};
        case 'E': return {ChildOutcome::Ending::weft_error, message};
        case 'M': return {ChildOutcome::Ending::out_of_memory, message};
        default: return {ChildOutcome::Ending::other_exception, message};
    }
}

std::string describe(const ChildOutcome& outcome) {
    switch (outcome.ending) {
        case ChildOutcome::Ending::returned: return "returned without an error";
        case ChildOutcome::Ending::weft_error: return "weft::Error: " + outcome.message;
        case ChildOutcome::Ending::out_of_memory: return "out of memory (std::bad_alloc)";
        case ChildOutcome::Ending::other_exception: return "exception: " + outcome.message;
        case ChildOutcome::Ending::killed: return outcome.message;
    }
    return "?";
}

}  // namespace weft::testing
