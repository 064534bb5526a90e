#include "app/data_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

namespace shopd::app {
namespace {

class DataDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shopd-datadir-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static mode_t ModeOf(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }
  std::string dir_;
};

TEST_F(DataDirTest, CreatesNestedDirectoriesWithMode0700) {
  const mode_t old_umask = ::umask(0);  // 0700 is chosen, not left to the umask
  auto made = EnsureDataDir(dir_ + "/a/b");
  ::umask(old_umask);
  ASSERT_TRUE(made) << made.error().message;
  EXPECT_EQ(ModeOf(dir_ + "/a"), 0700u);
  EXPECT_EQ(ModeOf(dir_ + "/a/b"), 0700u);
}

TEST_F(DataDirTest, AcceptsAnExistingPrivateDirectory) {
  EXPECT_TRUE(EnsureDataDir(dir_));
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);  // readable by others is the operator's choice
  EXPECT_TRUE(EnsureDataDir(dir_));
  EXPECT_EQ(ModeOf(dir_), 0755u);
}

TEST_F(DataDirTest, RefusesADirectoryWritableByGroupOrOthersWithoutChangingIt) {
  for (mode_t mode : {0770, 0702, 0777, 01777}) {
    ASSERT_EQ(::chmod(dir_.c_str(), mode), 0);
    auto ok = EnsureDataDir(dir_);
    ASSERT_FALSE(ok) << std::oct << mode;
    EXPECT_NE(ok.error().message.find("writable by group or others"), std::string::npos) << ok.error().message;
    EXPECT_NE(ok.error().message.find("chmod 700 " + dir_), std::string::npos) << ok.error().message;
    EXPECT_EQ(ModeOf(dir_), mode);
  }
}

TEST_F(DataDirTest, RefusesADirectoryOwnedBySomeoneElse) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the directory away";
  ASSERT_EQ(::chown(dir_.c_str(), 65534, 65534), 0);
  auto ok = EnsureDataDir(dir_);
  ASSERT_FALSE(ok);
  EXPECT_NE(ok.error().message.find("owned by uid 65534"), std::string::npos) << ok.error().message;
  EXPECT_NE(ok.error().message.find("chown 0 " + dir_), std::string::npos) << ok.error().message;
}

TEST_F(DataDirTest, RefusesAFileAsDirectory) {
  std::string file = dir_ + "/plain";
  std::FILE* f = std::fopen(file.c_str(), "w");
  std::fclose(f);
  EXPECT_FALSE(EnsureDataDir(file));
  EXPECT_FALSE(EnsureDataDir(file + "/below"));
}

}  // namespace
}  // namespace shopd::app
