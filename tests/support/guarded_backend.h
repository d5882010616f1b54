// Test support: a backend whose memory the host cannot touch except through the Device
// interface — what a GPU's memory is to host code — so that code meant to run on any device
// can be checked for it on a machine without a GPU.
//
// The "guarded" backend computes with the cpu backend's own kernels and optimiser updates, on
// memory of its own: every allocation is a separate mapping that is inaccessible (PROT_NONE)
// except while one of its Device functions, a kernel or an optimiser update runs. Host code
// that reads or writes device memory directly (`grad.as<float>()[i]` on a device tensor), which
// on a GPU would read garbage or crash, faults at once instead, and the test process stops
// with a message naming the guarded memory. Results are the cpu backend's, bit for bit.
#pragma once

#include <string>

#include "weft/registry.h"

namespace weft::testing {

// Registers the backend "guarded" into `registry`, and for every operator and optimiser that has
// a cpu kernel there a "guarded" kernel running that cpu kernel. `registry` must already hold
// the cpu plugins and outlive everything made from it.
void register_guarded_backend(Registry& registry);

// The cpu plugins of this build with the guarded backend over them, loaded once per process.
const Registry& guarded_registry();
// guarded_registry() for "guarded", the build's whole registry (op_harness.h) for any other.
const Registry& registry_for(const std::string& backend);

}  // namespace weft::testing
