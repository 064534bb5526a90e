#include "auth/password_hasher.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace shopd::auth {
namespace {

// Small cost so the suite stays fast; one test below runs the defaults.
constexpr Argon2Params kFast{.memory_kib = 1024, .iterations = 1, .parallelism = 1};

TEST(PasswordHasher, HashVerifies) {
  PasswordHasher h(kFast);
  std::string phc = h.Hash("hunter22");
  EXPECT_TRUE(h.Verify(phc, "hunter22"));
}

TEST(PasswordHasher, WrongPasswordFails) {
  PasswordHasher h(kFast);
  std::string phc = h.Hash("hunter22");
  EXPECT_FALSE(h.Verify(phc, "hunter23"));
  EXPECT_FALSE(h.Verify(phc, "hunter2"));
  EXPECT_FALSE(h.Verify(phc, ""));
  EXPECT_FALSE(h.Verify(phc, std::string("hunter22\0", 9)));
}

TEST(PasswordHasher, PasswordsAreBytesWithLength) {
  PasswordHasher h(kFast);
  std::string with_nul("ab\0cd", 5);
  std::string phc = h.Hash(with_nul);
  EXPECT_TRUE(h.Verify(phc, with_nul));
  EXPECT_FALSE(h.Verify(phc, "ab"));
  std::string empty_phc = h.Hash("");
  EXPECT_TRUE(h.Verify(empty_phc, ""));
  EXPECT_FALSE(h.Verify(empty_phc, "x"));
  std::string utf8 = "p\xc3\xa4ssw\xc3\xb6rd \xf0\x9f\x94\x91";
  EXPECT_TRUE(h.Verify(h.Hash(utf8), utf8));
}

TEST(PasswordHasher, SaltMakesHashesDiffer) {
  PasswordHasher h(kFast);
  std::string a = h.Hash("same password");
  std::string b = h.Hash("same password");
  EXPECT_NE(a, b);
  EXPECT_TRUE(h.Verify(a, "same password"));
  EXPECT_TRUE(h.Verify(b, "same password"));
}

TEST(PasswordHasher, EncodesAlgorithmAndParams) {
  PasswordHasher h(Argon2Params{.memory_kib = 2048, .iterations = 3, .parallelism = 2});
  std::string phc = h.Hash("pw");
  EXPECT_TRUE(phc.starts_with("$argon2id$")) << phc;
  EXPECT_TRUE(phc.starts_with("$argon2id$v=19$m=2048,t=3,p=2$")) << phc;
  // 16-byte salt and 32-byte hash, base64 without padding: 22 and 43 characters.
  size_t salt_at = phc.find('$', std::string("$argon2id$v=19$m=2048,t=3,p=2").size()) + 1;
  size_t hash_at = phc.find('$', salt_at) + 1;
  EXPECT_EQ(hash_at - salt_at - 1, 22u) << phc;
  EXPECT_EQ(phc.size() - hash_at, 43u) << phc;
  EXPECT_EQ(phc.find('\0'), std::string::npos);
}

TEST(PasswordHasher, VerifiesHashesMadeWithOtherParams) {
  // Raising the cost later must not invalidate stored hashes.
  PasswordHasher old_hasher(kFast);
  PasswordHasher new_hasher(Argon2Params{.memory_kib = 4096, .iterations = 2, .parallelism = 1});
  EXPECT_TRUE(new_hasher.Verify(old_hasher.Hash("pw"), "pw"));
}

TEST(PasswordHasher, MalformedHashesReturnFalse) {
  PasswordHasher h(kFast);
  std::string good = h.Hash("pw");
  ASSERT_TRUE(h.Verify(good, "pw"));
  std::vector<std::string> bad = {
      "",
      "$",
      "$argon2id$",
      "$argon2id$v=19$",
      "$argon2id$v=19$m=1024,t=1,p=1$",
      "$argon2id$v=19$m=1024,t=1,p=1$$",
      "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$",
      "$argon2id$v=19$m=,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
      "$argon2id$v=19$m=99999999999,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
      "$argon2id$v=19$m=-1,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
      "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",   // m too small
      "$argon2id$v=19$m=1024,t=0,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
      "$argon2id$v=19$m=1024,t=1,p=0$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
      "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
      "$argon2d$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
      "$2b$12$abcdefghijklmnopqrstuuOBSvU2p3lsy1O5LLsBRH0zrl0wb3Ou6",  // bcrypt
      "plain text password",
      good.substr(0, good.size() - 10),
      good + "AAAA",
      good + "$",
      good.substr(0, good.rfind('$')) + "$!!!!",
      std::string(good).insert(20, 1, '\0'),
      std::string(100'000, '$'),
  };
  // Costs far beyond any sane setting are refused instead of being computed.
  std::string greedy = good;
  greedy.replace(greedy.find("m=1024,t=1"), 10, "m=1024,t=4000000000");
  bad.push_back(greedy);
  greedy = good;
  greedy.replace(greedy.find("m=1024"), 6, "m=4194304");
  bad.push_back(greedy);
  for (const auto& b : bad) {
    SCOPED_TRACE(b.substr(0, 100));
    EXPECT_FALSE(h.Verify(b, "pw"));
  }
}

TEST(PasswordHasher, DummyHashIsStableAndMatchesParams) {
  PasswordHasher h(kFast);
  const std::string& d1 = h.DummyHash();
  const std::string& d2 = PasswordHasher(kFast).DummyHash();
  EXPECT_EQ(&d1, &d2);  // computed once per parameter set
  EXPECT_TRUE(d1.starts_with("$argon2id$v=19$m=1024,t=1,p=1$")) << d1;
  EXPECT_FALSE(h.Verify(d1, ""));
  EXPECT_FALSE(h.Verify(d1, "hunter22"));
  PasswordHasher other(Argon2Params{.memory_kib = 2048, .iterations = 1, .parallelism = 1});
  EXPECT_TRUE(other.DummyHash().starts_with("$argon2id$v=19$m=2048,t=1,p=1$"));
}

TEST(PasswordHasher, DummyHashIsThreadSafe) {
  PasswordHasher h(Argon2Params{.memory_kib = 1536, .iterations = 1, .parallelism = 1});
  std::vector<const std::string*> seen(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&, i] { seen[i] = &h.DummyHash(); });
  }
  for (auto& t : threads) t.join();
  for (const auto* s : seen) EXPECT_EQ(s, seen[0]);
}

TEST(PasswordHasher, BadParamsThrowOnHash) {
  PasswordHasher h(Argon2Params{.memory_kib = 1, .iterations = 1, .parallelism = 1});
  EXPECT_THROW(h.Hash("pw"), std::runtime_error);
}

TEST(PasswordHasher, DefaultParams) {
  PasswordHasher h;
  std::string phc = h.Hash("hunter22");
  EXPECT_TRUE(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")) << phc;
  EXPECT_TRUE(h.Verify(phc, "hunter22"));
  EXPECT_FALSE(h.Verify(phc, "hunter2"));
}

TEST(Argon2Floor, EveryOwaspRowIsAcceptedAndJustBelowItIsNot) {
  for (const auto& row : kOwaspArgon2Floor) {
    EXPECT_TRUE(MeetsOwaspFloor({.memory_kib = row.memory_kib, .iterations = row.iterations})) << row.memory_kib;
    // One KiB less with the same iterations falls back to the next row, which needs more iterations.
    EXPECT_FALSE(MeetsOwaspFloor({.memory_kib = row.memory_kib - 1, .iterations = row.iterations}))
        << row.memory_kib;
  }
}

TEST(Argon2Floor, MoreOfEitherCostStillMeetsIt) {
  EXPECT_TRUE(MeetsOwaspFloor(Argon2Params{}));  // the defaults: 19456 KiB, t=2
  EXPECT_TRUE(MeetsOwaspFloor({.memory_kib = 65536, .iterations = 1}));
  EXPECT_TRUE(MeetsOwaspFloor({.memory_kib = 7168, .iterations = 64}));
  EXPECT_TRUE(MeetsOwaspFloor({.memory_kib = 19456, .iterations = 3}));
}

TEST(Argon2Floor, CheapParametersAreBelowIt) {
  EXPECT_FALSE(MeetsOwaspFloor({.memory_kib = 1024, .iterations = 1}));  // the test suites' fast hashing
  EXPECT_FALSE(MeetsOwaspFloor({.memory_kib = 19455, .iterations = 2}));
  EXPECT_FALSE(MeetsOwaspFloor({.memory_kib = 47103, .iterations = 1}));
  EXPECT_FALSE(MeetsOwaspFloor({.memory_kib = 7167, .iterations = 64}));  // iterations do not replace all memory
  EXPECT_FALSE(MeetsOwaspFloor({.memory_kib = 4 * 1024 * 1024, .iterations = 0}));
}

TEST(Argon2Floor, DescriptionListsEveryRow) {
  EXPECT_EQ(DescribeOwaspFloor(),
            "m>=47104 KiB with t>=1, m>=19456 KiB with t>=2, m>=12288 KiB with t>=3, m>=9216 KiB with t>=4, "
            "m>=7168 KiB with t>=5");
}

}  // namespace
}  // namespace shopd::auth
