#include "weft/mpi/mpi_communicator.h"

#include <mpi.h>

#include <cstdlib>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "weft/error.h"

namespace weft::mpi {
namespace {

void check(int code, const char* call) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    throw Error(fmt::format("{} failed: {}", call, std::string(text, static_cast<std::size_t>(length))));
}

int count_of(std::size_t n) {
    if (n > static_cast<std::size_t>(std::numeric_limits<int>::max()))
        throw Error(fmt::format("MPI: {} elements exceed one message's count", n));
    return static_cast<int>(n);
}

class MpiCommunicator final : public training::Communicator {
public:
    MpiCommunicator() {
        // Only the thread that made the communicator calls MPI; the data loader and the kernels'
        // threads never do.
        int provided = 0;
        check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
        // Errors come back as codes (and become weft::Error) instead of aborting inside MPI.
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
        char version[MPI_MAX_LIBRARY_VERSION_STRING];
        int length = 0;
        MPI_Get_library_version(version, &length);
        library_ = std::string(version, static_cast<std::size_t>(length));
        if (const auto comma = library_.find(','); comma != std::string::npos) library_.resize(comma);
    }
    ~MpiCommunicator() override {
        wait_quietly();
        MPI_Finalize();
    }

    int rank() const override { return rank_; }
    int size() const override { return size_; }
    std::string description() const override { return fmt::format("{}, {} ranks", library_, size_); }

    void allreduce_sum(std::span<float> v) override {
        check(MPI_Allreduce(MPI_IN_PLACE, v.data(), count_of(v.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
              "MPI_Allreduce");
    }
    void allreduce_sum(std::span<double> v) override {
        check(MPI_Allreduce(MPI_IN_PLACE, v.data(), count_of(v.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
              "MPI_Allreduce");
    }
    void allreduce_max(std::span<double> v) override {
        check(MPI_Allreduce(MPI_IN_PLACE, v.data(), count_of(v.size()), MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD),
              "MPI_Allreduce");
    }

    void start_allreduce_sum(std::span<float> v) override {
        MPI_Request request = MPI_REQUEST_NULL;
        check(MPI_Iallreduce(MPI_IN_PLACE, v.data(), count_of(v.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                             &request),
              "MPI_Iallreduce");
        requests_.push_back(request);
    }
    void progress() override {
        // Open MPI moves non-blocking collectives on only inside MPI calls; a test is such a call.
        if (requests_.empty()) return;
        int done = 0;
        check(MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &done, MPI_STATUSES_IGNORE),
              "MPI_Testall");
        if (done) requests_.clear();
    }
    void wait_all() override {
        if (requests_.empty()) return;
        const int code =
            MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
        requests_.clear();
        check(code, "MPI_Waitall");
    }

    void broadcast(std::span<std::byte> bytes, int root) override {
        check(MPI_Bcast(bytes.data(), count_of(bytes.size()), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
    }

    [[noreturn]] void abort(int status) override {
        MPI_Abort(MPI_COMM_WORLD, status);
        std::_Exit(status);  // MPI_Abort does not return; should it, end this rank at least
    }

private:
    void wait_quietly() {
        if (!requests_.empty())
            MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
        requests_.clear();
    }

    int rank_ = 0, size_ = 1;
    std::string library_;
    std::vector<MPI_Request> requests_;
};

}  // namespace

std::unique_ptr<training::Communicator> make_mpi_communicator() {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (initialised) throw Error("MPI is already initialised: one communicator per process");
    return std::make_unique<MpiCommunicator>();
}

}  // namespace weft::mpi
