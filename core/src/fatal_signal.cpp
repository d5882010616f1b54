#include "weft/fatal_signal.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace weft {
namespace {

// Read by the handler, possibly on an OpenMP worker thread of the crashing kernel; lock-free
// atomics are async-signal-safe.
std::atomic<const char*> running_note{nullptr};
std::atomic<const char*> running_phase{nullptr};
static_assert(std::atomic<const char*>::is_always_lock_free);

struct FatalSignal {
    int number;
    const char* name;
};
constexpr FatalSignal kFatalSignals[] = {
    {SIGSEGV, "SIGSEGV"}, {SIGBUS, "SIGBUS"}, {SIGFPE, "SIGFPE"}, {SIGILL, "SIGILL"}, {SIGABRT, "SIGABRT"},
};

void write_text(const char* text) {
    if (!text) return;
    std::size_t left = std::strlen(text);  // async-signal-safe since POSIX.1-2016
    while (left > 0) {
        const ssize_t written = ::write(STDERR_FILENO, text, left);
        if (written <= 0) return;
        text += written;
        left -= static_cast<std::size_t>(written);
    }
}

void report_and_reraise(int signal_number) {
    const char* note = running_note.load();
    if (note) {
        const char* name = "a fatal signal";
        for (const FatalSignal& s : kFatalSignals)
            if (s.number == signal_number) name = s.name;
        write_text("weft: fatal: ");
        write_text(name);
        write_text(" in the plugin kernel of ");
        write_text(note);
        write_text(" during ");
        write_text(running_phase.load());
        write_text("\n");
    }
    // SA_RESETHAND restored the default action on entry; raising again ends the process with it.
    ::raise(signal_number);
}

}  // namespace

void install_fatal_signal_report() {
    struct sigaction action {};
    action.sa_handler = report_and_reraise;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND | SA_NODEFER;
    for (const FatalSignal& s : kFatalSignals) ::sigaction(s.number, &action, nullptr);
}

RunningKernelMark::RunningKernelMark(const char* note, const char* phase) {
    running_phase.store(phase);
    running_note.store(note);
}

RunningKernelMark::~RunningKernelMark() { running_note.store(nullptr); }

}  // namespace weft
