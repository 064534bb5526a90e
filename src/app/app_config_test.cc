#include "app/app_config.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace shopd::app {
namespace {

core::Result<AppConfig> LoadWith(const std::map<std::string, std::string>& flags, int cores) {
  config::ConfigSource src([](const std::string&) { return std::optional<std::string>(); });
  AppConfig::Declare(src);
  for (const auto& [k, v] : flags) src.SetFlag(k, v);
  return AppConfig::Load(src, cores);
}

TEST(AppConfig, HashPoolDefaultsToTwoThreadsAtMostAndAShortQueue) {
  EXPECT_EQ(LoadWith({}, 1)->hash_threads, 1);
  EXPECT_EQ(LoadWith({}, 2)->hash_threads, 2);
  EXPECT_EQ(LoadWith({}, 16)->hash_threads, 2);
  EXPECT_EQ(LoadWith({}, 16)->hash_queue, 16);
  EXPECT_EQ(LoadWith({}, 16)->hash_queue_wait_ms, 1000);
  // Several processes share the cores.
  EXPECT_EQ(LoadWith({{"processes", "4"}}, 4)->hash_threads, 1);
  EXPECT_EQ(LoadWith({{"processes", "2"}}, 8)->hash_threads, 2);
}

TEST(AppConfig, HashThreadsAreAtMostOnePerCore) {
  EXPECT_EQ(LoadWith({{"hash-threads", "4"}}, 4)->hash_threads, 4);
  auto over = LoadWith({{"hash-threads", "5"}}, 4);
  ASSERT_FALSE(over);
  EXPECT_NE(over.error().message.find("hash-threads"), std::string::npos) << over.error().message;
  EXPECT_FALSE(LoadWith({{"hash-queue", "0"}}, 4));
}

}  // namespace
}  // namespace shopd::app
