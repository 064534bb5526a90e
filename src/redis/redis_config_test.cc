#include "redis/redis_config.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace shopd::redis {
namespace {

config::ConfigSource Source(std::map<std::string, std::string> env) {
  config::ConfigSource src([env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
  RedisConfig::Declare(src);
  return src;
}

TEST(RedisConfig, NoRedisByDefault) {
  auto c = RedisConfig::Load(Source({}));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_FALSE(c->enabled());
  EXPECT_EQ(c->client.command_timeout.count(), 100);
  EXPECT_EQ(c->client.connect_timeout.count(), 200);
}

TEST(RedisConfig, ReadsTheUrlAndDeadlinesFromTheEnvironment) {
  auto c = RedisConfig::Load(Source({{"SHOPD_REDIS_URL", "redis://:pw@10.0.0.5:6380/2"},
                                     {"SHOPD_REDIS_COMMAND_TIMEOUT_MS", "50"},
                                     {"SHOPD_REDIS_MAX_IN_FLIGHT", "64"}}));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->enabled());
  EXPECT_EQ(c->client.url, "redis://:pw@10.0.0.5:6380/2");
  EXPECT_EQ(c->client.command_timeout.count(), 50);
  EXPECT_EQ(c->client.max_in_flight, 64u);
}

TEST(RedisConfig, BadValuesAreReportedTogether) {
  auto c = RedisConfig::Load(Source({{"SHOPD_REDIS_URL", "http://10.0.0.5"}, {"SHOPD_REDIS_COMMAND_TIMEOUT_MS", "0"}}));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("redis-url"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("redis-command-timeout-ms"), std::string::npos) << c.error().message;
}

}  // namespace
}  // namespace shopd::redis
