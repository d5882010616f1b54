// weft/output_file.h, the one way weft writes a file: no partial file after any failure, never a
// write through a planted link or into a device, FIFO or directory.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>

#include "cli_harness.h"
#include "weft/error.h"
#include "weft/npy.h"
#include "weft/output_file.h"
#include "weft/weights.h"

namespace fs = std::filesystem;

namespace {

class OutputFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir = scratch.path() / ::testing::UnitTest::GetInstance()->current_test_info()->name();
        fs::create_directories(dir);
    }

    std::vector<std::string> entries() const {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }

    void write(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

    weft::testing::ScratchDirectory scratch{"weft_output_file_test"};
    fs::path dir;
};

weft::Tensor floats(std::int64_t n) { return weft::Tensor(weft::TensorDesc{weft::DType::f32, {n}}); }

std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const weft::Error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_F(OutputFileTest, APlantedLinkAtTheOldFixedTemporaryNameIsNeverFollowed) {
    // The weights writer used to open PATH.tmp with O_TRUNC, following links.
    const fs::path victim = dir / "victim.txt";
    write(victim, "precious");
    fs::create_symlink(victim, dir / "w.safetensors.tmp");
    weft::save_safetensors(dir / "w.safetensors", {{"x", floats(4)}});
    EXPECT_EQ(weft::testing::read_text(victim), "precious");
    EXPECT_TRUE(fs::is_symlink(dir / "w.safetensors.tmp"));
    EXPECT_EQ(weft::load_safetensors(dir / "w.safetensors").at("x").numel(), 4);
    EXPECT_EQ(entries(), (std::vector<std::string>{"victim.txt", "w.safetensors", "w.safetensors.tmp"}));
}

TEST_F(OutputFileTest, AnExistingFileIsReplacedWholeWithTheUmasksMode) {
    const fs::path file = dir / "out.npy";
    write(file, "an older, longer content than the new file will have ............................................");
    const mode_t old_mask = ::umask(027);
    weft::save_npy(file, floats(3));
    ::umask(old_mask);
    EXPECT_EQ(weft::load_npy(file).numel(), 3);
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u);
    EXPECT_EQ(entries(), std::vector<std::string>{"out.npy"});
}

TEST_F(OutputFileTest, ALinkToARegularFileIsReplacedAndItsTargetLeftAlone) {
    write(dir / "elsewhere.svg", "theirs");
    fs::create_symlink(dir / "elsewhere.svg", dir / "curves.svg");
    weft::write_file_atomically(dir / "curves.svg", "ours");
    EXPECT_EQ(weft::testing::read_text(dir / "elsewhere.svg"), "theirs");
    EXPECT_FALSE(fs::is_symlink(dir / "curves.svg"));
    EXPECT_EQ(weft::testing::read_text(dir / "curves.svg"), "ours");
}

TEST_F(OutputFileTest, ADeviceAFifoADirectoryOrALinkToOneIsRefusedNamingThePath) {
    ASSERT_EQ(::mkfifo((dir / "fifo.npy").c_str(), 0644), 0);
    fs::create_directory(dir / "folder.npy");
    fs::create_symlink("/dev/null", dir / "null.npy");
    for (const fs::path& target : {fs::path("/dev/full"), dir / "fifo.npy", dir / "folder.npy", dir / "null.npy"}) {
        const std::string message = message_of([&] { weft::save_npy(target, floats(2)); });
        EXPECT_NE(message.find(target.string() + ": exists and is "), std::string::npos) << message;
        EXPECT_NE(message.find("weft writes only regular files"), std::string::npos) << message;
    }
    EXPECT_EQ(entries(), (std::vector<std::string>{"fifo.npy", "folder.npy", "null.npy"}));
}

TEST_F(OutputFileTest, AFullDiskLeavesTheOldFileAndNoTemporary) {
    // A file-size limit fails write() as a full disk does (EFBIG instead of ENOSPC), in this
    // process only; SIGXFSZ would otherwise end it.
    const fs::path file = dir / "w.safetensors";
    write(file, "old");
    struct rlimit old_limit {};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
    struct rlimit small = old_limit;
    small.rlim_cur = 64 * 1024;
    const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    const std::string message = message_of([&] { weft::save_safetensors(file, {{"x", floats(1 << 20)}}); });
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
    ::signal(SIGXFSZ, old_handler);
    EXPECT_NE(message.find(file.string() + ": cannot write: File too large"), std::string::npos) << message;
    EXPECT_EQ(weft::testing::read_text(file), "old");
    EXPECT_EQ(entries(), std::vector<std::string>{"w.safetensors"});
}

TEST_F(OutputFileTest, AWriterAbandonedByAnExceptionLeavesNothing) {
    EXPECT_THROW(
        {
            weft::OutputFile out(dir / "half.csv");
            out.write("epoch,loss\n");
            EXPECT_TRUE(fs::exists(out.temporary()));
            throw std::runtime_error("interrupted");
        },
        std::runtime_error);
    EXPECT_TRUE(entries().empty());
}

TEST_F(OutputFileTest, TemporaryNamesAreUnpredictableAndNeverReused) {
    weft::OutputFile a(dir / "x.json"), b(dir / "x.json");
    EXPECT_NE(a.temporary(), b.temporary());
    EXPECT_EQ(a.temporary().filename().string().rfind("x.json.tmp-", 0), 0u) << a.temporary();
    EXPECT_EQ(a.temporary().filename().string().size(), std::string("x.json.tmp-").size() + 12);
}
