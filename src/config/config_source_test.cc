#include "config/config_source.h"

#include <gtest/gtest.h>

#include <map>

namespace shopd::config {
namespace {

ConfigSource WithEnv(std::map<std::string, std::string> env) {
  return ConfigSource([env](const std::string& name) -> std::optional<std::string> {
    if (auto it = env.find(name); it != env.end()) return it->second;
    return std::nullopt;
  });
}

TEST(ConfigSource, EnvNameFollowsConvention) {
  EXPECT_EQ(ConfigSource::EnvName("header-timeout-ms"), "SHOPD_HEADER_TIMEOUT_MS");
  EXPECT_EQ(ConfigSource::EnvName("listen"), "SHOPD_LISTEN");
}

TEST(ConfigSource, FlagBeatsEnvBeatsDefault) {
  auto src = WithEnv({{"SHOPD_LISTEN", "0.0.0.0:9000"}, {"SHOPD_THREADS", "3"}});
  src.Declare({"listen", "127.0.0.1:8080", "where"});
  src.Declare({"threads", "1", "how many"});
  src.Declare({"data-dir", "./data", "dir"});
  src.SetFlag("listen", "127.0.0.1:1");
  EXPECT_EQ(*src.GetString("listen"), "127.0.0.1:1");
  EXPECT_EQ(*src.GetInt("threads", 1, 8), 3);
  EXPECT_EQ(*src.GetString("data-dir"), "./data");
}

TEST(ConfigSource, IntValidation) {
  auto src = WithEnv({{"SHOPD_A", "12x"}, {"SHOPD_B", "99"}, {"SHOPD_C", "-5"}});
  EXPECT_FALSE(src.GetInt("a", 0, 100));
  EXPECT_NE(src.GetInt("a", 0, 100).error().message.find("not an integer"), std::string::npos);
  EXPECT_FALSE(src.GetInt("b", 0, 10));
  EXPECT_NE(src.GetInt("b", 0, 10).error().message.find("out of range"), std::string::npos);
  EXPECT_EQ(*src.GetInt("c", -10, 10), -5);
  EXPECT_FALSE(src.GetInt("missing", 0, 1));
}

TEST(ConfigSource, BoolAndList) {
  auto src = WithEnv({{"SHOPD_ON", "yes"}, {"SHOPD_BAD", "maybe"},
                      {"SHOPD_ORIGINS", " https://a.example , ,https://b.example"}});
  EXPECT_TRUE(*src.GetBool("on"));
  EXPECT_FALSE(*src.GetBool("unset"));
  EXPECT_FALSE(src.GetBool("bad"));
  auto list = *src.GetList("origins");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0], "https://a.example");
  EXPECT_EQ(list[1], "https://b.example");
}

TEST(ConfigErrors, ReportsAllAtOnce) {
  auto src = WithEnv({{"SHOPD_A", "x"}, {"SHOPD_B", "y"}});
  ConfigErrors errs;
  int64_t a = 0, b = 0;
  errs.Take(src.GetInt("a", 0, 1), a);
  errs.Take(src.GetInt("b", 0, 1), b);
  auto r = errs.Finish();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("a:"), std::string::npos);
  EXPECT_NE(r.error().message.find("b:"), std::string::npos);
}

}  // namespace
}  // namespace shopd::config
