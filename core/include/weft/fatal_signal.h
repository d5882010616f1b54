// Last words when a plugin kernel crashes the process. A kernel is a stranger's machine code: a
// bad pointer in it kills weft with SIGSEGV, and without this the user learns nothing of which
// node, operator or library did it. Before each kernel call the executors mark, with a message
// prepared at compile time, which kernel is running; a fatal signal then writes that message to
// stderr (async-signal-safe: write(2) of bytes that already exist) and re-raises itself with the
// default action, so the exit status and any core dump stay the signal's.
#pragma once

namespace weft {

// Installs the handler for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT. A program (the `weft`
// runner) calls it once at start; a library never does, since handlers belong to the program.
void install_fatal_signal_report();

// While one exists, a fatal signal reports `note` ("node 'x' (op 'relu', kernel k, library
// /p/lib.so)") and `phase` ("forward"). Both must outlive the scope; nothing is copied, so
// entering and leaving cost two stores. Scopes do not nest: the innermost one wins and leaving it
// clears the mark.
class RunningKernelMark {
public:
    RunningKernelMark(const char* note, const char* phase);
    ~RunningKernelMark();
    RunningKernelMark(const RunningKernelMark&) = delete;
    RunningKernelMark& operator=(const RunningKernelMark&) = delete;
};

}  // namespace weft
