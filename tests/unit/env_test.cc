// Tests that every Env (the real one, the in-memory one, a wrapper) reads
// files at offsets alike.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <thread>

#include "snapshot/env.h"

namespace kuzusync {
namespace {

enum class Kind { kPosix, kMem, kWrapper };

class RandomAccessTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/kuzusync-env-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    switch (GetParam()) {
      case Kind::kPosix: env_ = Env::Default(); break;
      case Kind::kMem: env_ = mem_.get(); break;
      case Kind::kWrapper: env_ = &wrapper_; break;
    }
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // What the file gives for n bytes at offset, as a string.
  static std::string ReadAt(const RandomAccessFile& file, uint64_t offset, size_t n) {
    std::string scratch(n, '\0');
    std::string_view got;
    Status s = file.Read(offset, n, scratch.data(), &got);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return std::string(got);
  }

  std::string dir_;
  std::unique_ptr<Env> mem_ = NewMemEnv();
  EnvWrapper wrapper_{mem_.get()};
  Env* env_ = nullptr;
};

TEST_P(RandomAccessTest, ReadsAtAnyOffsetShortOnlyAtTheEnd) {
  std::string text;
  for (int i = 0; i < 100000; ++i) text += static_cast<char>('a' + i % 26);
  const std::string path = dir_ + "/f.csv";
  ASSERT_TRUE(WriteFileAtomically(env_, path, text).ok());
  std::unique_ptr<RandomAccessFile> file;
  ASSERT_TRUE(env_->NewRandomAccessFile(path, &file).ok());
  EXPECT_EQ(ReadAt(*file, 0, 10), text.substr(0, 10));
  EXPECT_EQ(ReadAt(*file, 77777, 5000), text.substr(77777, 5000));
  EXPECT_EQ(ReadAt(*file, 3, 0), "");
  EXPECT_EQ(ReadAt(*file, 99990, 100), text.substr(99990));  // the end: shorter
  EXPECT_EQ(ReadAt(*file, 100000, 10), "");
  EXPECT_EQ(ReadAt(*file, 1 << 30, 10), "");
  EXPECT_EQ(ReadAt(*file, 0, 200000), text);  // larger than the file
  // Reads of one file from several threads at once.
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      for (uint64_t offset = t; offset < 99000; offset += 997) {
        EXPECT_EQ(ReadAt(*file, offset, 1000), text.substr(offset, 1000));
      }
    });
  }
  for (std::thread& r : readers) r.join();
}

TEST_P(RandomAccessTest, AMissingFileIsNotFound) {
  std::unique_ptr<RandomAccessFile> file;
  EXPECT_EQ(env_->NewRandomAccessFile(dir_ + "/missing.csv", &file).code(), Status::Code::kNotFound);
}

// An open file keeps reading what it was opened on when the name is
// published anew (as a rename does on disk).
TEST_P(RandomAccessTest, APublishedReplacementIsNotSeenByAnOpenFile) {
  const std::string path = dir_ + "/f.csv";
  ASSERT_TRUE(WriteFileAtomically(env_, path, "old rows\n").ok());
  std::unique_ptr<RandomAccessFile> file;
  ASSERT_TRUE(env_->NewRandomAccessFile(path, &file).ok());
  ASSERT_TRUE(WriteFileAtomically(env_, path, "new rows, more of them\n").ok());
  EXPECT_EQ(ReadAt(*file, 0, 100), "old rows\n");
  std::unique_ptr<RandomAccessFile> again;
  ASSERT_TRUE(env_->NewRandomAccessFile(path, &again).ok());
  EXPECT_EQ(ReadAt(*again, 4, 4), "rows");
  EXPECT_EQ(ReadAt(*again, 10, 100), "more of them\n");
}

INSTANTIATE_TEST_SUITE_P(Envs, RandomAccessTest, ::testing::Values(Kind::kPosix, Kind::kMem, Kind::kWrapper),
                         [](const ::testing::TestParamInfo<Kind>& info) {
                           return std::string(info.param == Kind::kPosix ? "Posix"
                                              : info.param == Kind::kMem ? "Mem"
                                                                         : "Wrapper");
                         });

}  // namespace
}  // namespace kuzusync
