#include "services/users/users_config.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

namespace shopd::services {
namespace {

core::Result<UsersConfig> LoadWith(const std::map<std::string, std::string>& flags,
                                   const std::map<std::string, std::string>& env = {}) {
  config::ConfigSource src([env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
  UsersConfig::Declare(src);
  for (const auto& [k, v] : flags) src.SetFlag(k, v);
  return UsersConfig::Load(src);
}

TEST(UsersConfig, DefaultArgon2ParametersMeetTheFloor) {
  auto c = LoadWith({});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->argon2.memory_kib, 19456u);
  EXPECT_EQ(c->argon2.iterations, 2u);
  EXPECT_FALSE(c->insecure_fast_hashing_for_tests);
}

TEST(UsersConfig, Argon2BelowTheOwaspFloorIsRefusedNamingTheFloor) {
  for (auto [m, t] : {std::pair{"1024", "1"}, {"19455", "2"}, {"47103", "1"}, {"7167", "64"}}) {
    auto c = LoadWith({{"argon2-memory-kib", m}, {"argon2-iterations", t}});
    ASSERT_FALSE(c) << m << " " << t;
    EXPECT_NE(c.error().message.find("below the OWASP floor"), std::string::npos) << c.error().message;
    EXPECT_NE(c.error().message.find("m>=19456 KiB with t>=2"), std::string::npos) << c.error().message;
  }
}

TEST(UsersConfig, EveryRowOfTheFloorIsAccepted) {
  for (auto [m, t] : {std::pair{"47104", "1"}, {"19456", "2"}, {"12288", "3"}, {"9216", "4"}, {"7168", "5"}})
    EXPECT_TRUE(LoadWith({{"argon2-memory-kib", m}, {"argon2-iterations", t}})) << m << " " << t;
}

TEST(UsersConfig, TestOnlyOptOutAcceptsFastHashing) {
  auto c = LoadWith({{"argon2-memory-kib", "1024"}, {"argon2-iterations", "1"},
                     {"insecure-fast-hashing-for-tests", "true"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->insecure_fast_hashing_for_tests);
  EXPECT_EQ(c->argon2.memory_kib, 1024u);
  // The same through the environment, as the integration harness sets it.
  auto from_env = LoadWith({{"argon2-memory-kib", "1024"}, {"argon2-iterations", "1"}},
                           {{"SHOPD_INSECURE_FAST_HASHING_FOR_TESTS", "1"}});
  ASSERT_TRUE(from_env) << from_env.error().message;
  EXPECT_TRUE(from_env->insecure_fast_hashing_for_tests);
}

}  // namespace
}  // namespace shopd::services
