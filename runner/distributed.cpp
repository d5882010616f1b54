#include "distributed.h"

#include <cstdlib>
#include <string>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <fmt/format.h>

#include "weft/error.h"
#include "weft/nccl/nccl_allreduce.h"
#ifdef WEFT_HAVE_MPI
#include "weft/mpi/mpi_communicator.h"
#endif

namespace weft::runner {

bool launched_as_rank() {
    // Open MPI's mpirun, and the PMI of Slurm's srun and MPICH's launchers.
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
        if (const char* value = std::getenv(name); value && std::atoi(value) > 1) return true;
    return false;
}

std::unique_ptr<training::Communicator> open_communicator(bool asked) {
    if (!asked && !launched_as_rank()) return nullptr;
#ifdef WEFT_HAVE_MPI
    return mpi::make_mpi_communicator();
#else
    throw Error(std::string(asked ? "--distributed" : "started by an MPI launcher as one of several ranks") +
                ": this weft was built without MPI support (install libopenmpi-dev and rebuild; CMake's "
                "find_package(MPI) must find it), so it can only train in one process");
#endif
}

int local_rank() {
    for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID"})
        if (const char* value = std::getenv(name)) return std::atoi(value);
    return 0;
}

DeviceAllreduceFactory device_allreduce_for(const std::string& backend, std::string& why_not) {
    if (backend != "cuda") return {};
    // <prefix>/bin/weft and <prefix>/lib/libweft_nccl.so, in the build tree as installed.
    const boost::dll::fs::path library =
        boost::dll::program_location().parent_path().parent_path() / "lib" / "libweft_nccl.so";
    using Entry = training::DeviceAllreduce*(Device*, training::Communicator*, char*, std::size_t);
    // Loaded once and kept for the process: the exchange's code must outlive every rank's use.
    static boost::dll::shared_library loaded;
    try {
        if (!loaded.is_loaded()) {
            if (!boost::dll::fs::exists(library)) {
                why_not = fmt::format("{} is missing (weft was built without NCCL)", library.string());
                return {};
            }
            loaded.load(library, boost::dll::load_mode::rtld_now);
        }
        Entry* entry = &loaded.get<Entry>(kNcclEntrySymbol);
        return [entry](Device& device, training::Communicator& communicator) {
            char error[512] = {};
            training::DeviceAllreduce* made = entry(&device, &communicator, error, sizeof error);
            if (!made) throw Error(fmt::format("NCCL: {}", error));
            return std::unique_ptr<training::DeviceAllreduce>(made);
        };
    } catch (const std::exception& e) {
        why_not = fmt::format("{} cannot be loaded: {}", library.string(), e.what());
        return {};
    }
}

}  // namespace weft::runner
