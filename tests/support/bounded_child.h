// Test support: running part of a test in a forked child under limits — an address space that may
// grow by a stated budget only, and a time limit — so a test can show that a hostile file costs
// little memory and cannot hang, whatever the code under test would have done (a test process
// that exhausted its memory or blocked for ever could not report it).
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace weft::testing {

struct ChildOutcome {
    enum class Ending {
        returned,         // the body returned normally
        weft_error,       // it threw weft::Error: `message` is its text
        out_of_memory,    // it threw std::bad_alloc: the budget was not enough
        other_exception,  // it threw something else: `message` says what
        killed,           // a signal ended it (SIGALRM: the time ran out): `message` names it
    };
    Ending ending = Ending::killed;
    std::string message;
};

// Runs `body` in a child process whose address space may grow by at most `memory_budget_bytes`
// beyond its size at the fork (not enforced in sanitizer builds, whose shadow memory makes an
// address-space limit meaningless) and which is killed after `seconds`.
ChildOutcome run_in_bounded_child(std::size_t memory_budget_bytes, unsigned seconds, const std::function<void()>& body);

// For test failure messages: "weft::Error: <message>", "out of memory", "killed by signal 14", ...
std::string describe(const ChildOutcome& outcome);

}  // namespace weft::testing
