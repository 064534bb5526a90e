// storage: the UserStore contract, one TEST_P suite run against every backend.
// Depends on storage and GoogleTest.
//
// The cases use the UserStore interface only, so "same behaviour on every
// backend" is tested rather than claimed. A backend's test file includes this
// header once (it defines tests) and instantiates the suite:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, UserStoreContract,
//       ::testing::Values(UserStoreBackend{"Sqlite", [] { return MakeSqliteHarness(); }}),
//       UserStoreBackendName);
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "core/testing/async_test_util.h"
#include "storage/user_store.h"

namespace shopd::storage::contract {

// Owns one fresh, empty store and whatever it needs (files, pools, servers),
// released in the destructor.
class UserStoreHarness {
 public:
  virtual ~UserStoreHarness() = default;
  virtual UserStore& store() = 0;
};

struct UserStoreBackend {
  std::string name;  // test-name suffix: letters and digits only
  std::function<std::unique_ptr<UserStoreHarness>()> make;

  friend void PrintTo(const UserStoreBackend& b, std::ostream* os) { *os << b.name; }
};

inline std::string UserStoreBackendName(const ::testing::TestParamInfo<UserStoreBackend>& info) {
  return info.param.name;
}

// Drives one awaitable to completion on a private io_context.
template <class T>
T Await(boost::asio::awaitable<T> aw) {
  boost::asio::io_context io;
  return shopd::testing::AwaitOn(io, std::move(aw));
}

// Starts start(0..n-1) together on one io_context and returns every result;
// a coroutine that threw leaves nullopt in its slot.
template <class T>
std::vector<std::optional<core::Result<T>>> RunTogether(int n, const std::function<Async<T>(int)>& start) {
  boost::asio::io_context io;
  std::vector<std::optional<core::Result<T>>> results(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    boost::asio::co_spawn(io, start(i), [&results, i](std::exception_ptr e, core::Result<T> r) {
      if (!e) results[static_cast<size_t>(i)].emplace(std::move(r));
    });
  }
  io.run();
  return results;
}

class UserStoreContract : public ::testing::TestWithParam<UserStoreBackend> {
 protected:
  static constexpr int64_t kNow = 1'700'000'000;
  static constexpr int64_t kTtl = 3600;

  void SetUp() override {
    harness_ = GetParam().make();
    ASSERT_NE(harness_, nullptr);
  }
  void TearDown() override { harness_.reset(); }

  UserStore& store() { return harness_->store(); }

  static User MakeUser(std::string id, std::string email, std::string role = "user") {
    User u;
    u.id = std::move(id);
    u.email = std::move(email);
    u.name = "Name of " + u.id;
    u.role = std::move(role);
    u.password_hash = "$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA";
    u.created_at = kNow;
    return u;
  }

  static RefreshToken MakeToken(std::string hash, std::string user_id, std::string family_id,
                                int64_t issued_at = kNow) {
    RefreshToken t;
    t.token_hash = std::move(hash);
    t.user_id = std::move(user_id);
    t.family_id = std::move(family_id);
    t.issued_at = issued_at;
    t.expires_at = issued_at + kTtl;
    return t;
  }

  core::Result<User> Create(User u) { return Await(store().CreateUser(std::move(u))); }
  core::Result<RefreshToken> Rotate(std::string old_hash, std::string next_hash, int64_t now = kNow + 1,
                                    std::string user_id = "u1", std::string family_id = "f1") {
    return Await(store().RotateRefreshToken(
        std::move(old_hash), MakeToken(std::move(next_hash), std::move(user_id), std::move(family_id), now),
        now));
  }

  // A user "u1" with a first refresh token "t1" in family "f1".
  void SeedLogin() {
    ASSERT_TRUE(Create(MakeUser("u1", "a@example.com")));
    ASSERT_TRUE(Await(store().InsertRefreshToken(MakeToken("t1", "u1", "f1"))));
  }

  std::unique_ptr<UserStoreHarness> harness_;
};

#define SHOPD_EXPECT_ERRC(result, errc)                        \
  do {                                                         \
    const auto& r_ = (result);                                 \
    ASSERT_FALSE(r_.has_value()) << "expected an error";       \
    EXPECT_EQ(r_.error().code, (errc)) << r_.error().internal; \
  } while (0)

TEST_P(UserStoreContract, CreatedUserIsFoundByEmailAndId) {
  User u = MakeUser("u1", "a@example.com");
  auto created = Create(u);
  ASSERT_TRUE(created) << created.error().internal;
  EXPECT_EQ(created->id, "u1");

  for (auto found : {Await(store().FindUserByEmail("a@example.com")), Await(store().FindUserById("u1"))}) {
    ASSERT_TRUE(found) << found.error().internal;
    EXPECT_EQ(found->id, u.id);
    EXPECT_EQ(found->email, u.email);
    EXPECT_EQ(found->name, u.name);
    EXPECT_EQ(found->role, "user");
    EXPECT_EQ(found->password_hash, u.password_hash);
    EXPECT_EQ(found->created_at, u.created_at);
  }
}

TEST_P(UserStoreContract, DuplicateEmailIsConflict) {
  ASSERT_TRUE(Create(MakeUser("u1", "a@example.com")));
  SHOPD_EXPECT_ERRC(Create(MakeUser("u2", "a@example.com")), core::Errc::kConflict);
  // The first account is untouched.
  auto found = Await(store().FindUserByEmail("a@example.com"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, "u1");
  SHOPD_EXPECT_ERRC(Await(store().FindUserById("u2")), core::Errc::kNotFound);
}

TEST_P(UserStoreContract, MissingUserIsNotFound) {
  SHOPD_EXPECT_ERRC(Await(store().FindUserByEmail("nobody@example.com")), core::Errc::kNotFound);
  SHOPD_EXPECT_ERRC(Await(store().FindUserById("nobody")), core::Errc::kNotFound);
}

TEST_P(UserStoreContract, EnsureAdminCreatesAdmin) {
  auto admin = Await(store().EnsureAdmin(MakeUser("a1", "admin@example.com", "user")));
  ASSERT_TRUE(admin) << admin.error().internal;
  EXPECT_EQ(admin->id, "a1");
  EXPECT_EQ(admin->role, "admin");
  auto found = Await(store().FindUserByEmail("admin@example.com"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->role, "admin");
}

TEST_P(UserStoreContract, EnsureAdminPromotesExistingUserAndResetsPassword) {
  ASSERT_TRUE(Create(MakeUser("u1", "a@example.com")));
  User again = MakeUser("other-id", "a@example.com");
  again.password_hash = "new-hash";
  auto admin = Await(store().EnsureAdmin(again));
  ASSERT_TRUE(admin) << admin.error().internal;
  EXPECT_EQ(admin->id, "u1");  // the existing account, not a new one
  EXPECT_EQ(admin->role, "admin");
  EXPECT_EQ(admin->password_hash, "new-hash");

  auto found = Await(store().FindUserById("u1"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->role, "admin");
  EXPECT_EQ(found->password_hash, "new-hash");
  SHOPD_EXPECT_ERRC(Await(store().FindUserById("other-id")), core::Errc::kNotFound);

  // Idempotent: a second bootstrap changes nothing but the hash.
  again.password_hash = "newer-hash";
  auto twice = Await(store().EnsureAdmin(again));
  ASSERT_TRUE(twice);
  EXPECT_EQ(twice->id, "u1");
  EXPECT_EQ(twice->password_hash, "newer-hash");
}

TEST_P(UserStoreContract, RotateSpendsOldTokenAndChainsTheFamily) {
  SeedLogin();
  auto spent = Rotate("t1", "t2");
  ASSERT_TRUE(spent) << spent.error().internal;
  EXPECT_EQ(spent->token_hash, "t1");
  EXPECT_EQ(spent->user_id, "u1");
  EXPECT_EQ(spent->family_id, "f1");
  EXPECT_EQ(spent->issued_at, kNow);
  EXPECT_EQ(spent->expires_at, kNow + kTtl);

  auto next = Rotate("t2", "t3", kNow + 2);
  ASSERT_TRUE(next) << next.error().internal;
  EXPECT_EQ(next->token_hash, "t2");
  EXPECT_EQ(next->family_id, "f1");
}

TEST_P(UserStoreContract, RotateKeepsOldFamilyAndUserWhateverTheCallerPasses) {
  SeedLogin();
  ASSERT_TRUE(Create(MakeUser("u2", "b@example.com")));
  ASSERT_TRUE(Rotate("t1", "t2", kNow + 1, /*user_id=*/"u2", /*family_id=*/"other-family"));
  auto next = Rotate("t2", "t3", kNow + 2);
  ASSERT_TRUE(next) << next.error().internal;
  EXPECT_EQ(next->user_id, "u1");
  EXPECT_EQ(next->family_id, "f1");
  // And revoking f1 reaches the successor.
  ASSERT_TRUE(Await(store().RevokeRefreshFamily("t1", kNow + 3)));
  SHOPD_EXPECT_ERRC(Rotate("t3", "t4", kNow + 4), core::Errc::kUnauthenticated);
}

TEST_P(UserStoreContract, RotateUnknownTokenIsUnauthenticated) {
  SeedLogin();
  SHOPD_EXPECT_ERRC(Rotate("nope", "t2"), core::Errc::kUnauthenticated);
  // Nothing was stored for the rejected rotation.
  SHOPD_EXPECT_ERRC(Rotate("t2", "t3"), core::Errc::kUnauthenticated);
  EXPECT_TRUE(Rotate("t1", "t2"));
}

TEST_P(UserStoreContract, ReusingASpentTokenRevokesTheWholeFamily) {
  SeedLogin();
  ASSERT_TRUE(Rotate("t1", "t2"));
  auto reuse = Rotate("t1", "t3", kNow + 2);
  SHOPD_EXPECT_ERRC(reuse, core::Errc::kUnauthenticated);
  EXPECT_EQ(reuse.error().message, "refresh token reuse detected");
  // The legitimate successor died with the family, and the replay stored nothing.
  SHOPD_EXPECT_ERRC(Rotate("t2", "t4", kNow + 3), core::Errc::kUnauthenticated);
  SHOPD_EXPECT_ERRC(Rotate("t3", "t5", kNow + 3), core::Errc::kUnauthenticated);
}

TEST_P(UserStoreContract, ReusingASpentTokenAfterItExpiredStillRevokesTheFamily) {
  SeedLogin();
  ASSERT_TRUE(Rotate("t1", "t2"));
  auto reuse = Rotate("t1", "t3", kNow + kTtl + 1);
  SHOPD_EXPECT_ERRC(reuse, core::Errc::kUnauthenticated);
  EXPECT_EQ(reuse.error().message, "refresh token reuse detected");
  SHOPD_EXPECT_ERRC(Rotate("t2", "t4", kNow + 2), core::Errc::kUnauthenticated);
}

TEST_P(UserStoreContract, ExpiredTokenIsRejected) {
  SeedLogin();
  SHOPD_EXPECT_ERRC(Rotate("t1", "t2", kNow + kTtl), core::Errc::kUnauthenticated);
  SHOPD_EXPECT_ERRC(Rotate("t2", "t3", kNow + kTtl), core::Errc::kUnauthenticated);
  // A rejected expired token is not spent: the family is not revoked by it.
  ASSERT_TRUE(Await(store().InsertRefreshToken(MakeToken("t9", "u1", "f1", kNow + kTtl))));
  EXPECT_TRUE(Rotate("t9", "t10", kNow + kTtl + 1));
}

TEST_P(UserStoreContract, RevokedFamilyCannotRotate) {
  SeedLogin();
  ASSERT_TRUE(Rotate("t1", "t2"));
  ASSERT_TRUE(Await(store().InsertRefreshToken(MakeToken("other", "u1", "f2"))));

  ASSERT_TRUE(Await(store().RevokeRefreshFamily("t2", kNow + 2)));
  SHOPD_EXPECT_ERRC(Rotate("t2", "t3", kNow + 3), core::Errc::kUnauthenticated);
  // Another login of the same user is untouched.
  EXPECT_TRUE(Rotate("other", "other2", kNow + 3, "u1", "f2"));
}

TEST_P(UserStoreContract, RevokingAnUnknownTokenIsNotAnError) {
  EXPECT_TRUE(Await(store().RevokeRefreshFamily("nope", kNow)));
}

TEST_P(UserStoreContract, PingSucceeds) { EXPECT_TRUE(Await(store().Ping())); }

TEST_P(UserStoreContract, ConcurrentSignupsWithOneEmailExactlyOneWins) {
  constexpr int kClients = 20;
  auto results = RunTogether<User>(
      kClients, [&](int i) { return store().CreateUser(MakeUser("u" + std::to_string(i), "same@example.com")); });

  int ok = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.has_value()) << "a coroutine threw";
    if (r->has_value())
      ++ok;
    else
      EXPECT_EQ(r->error().code, core::Errc::kConflict) << r->error().internal;
  }
  EXPECT_EQ(ok, 1);
}

TEST_P(UserStoreContract, ConcurrentRotationsOfOneTokenExactlyOneWins) {
  SeedLogin();
  constexpr int kClients = 10;
  auto results = RunTogether<RefreshToken>(kClients, [&](int i) {
    return store().RotateRefreshToken("t1", MakeToken("n" + std::to_string(i), "u1", "f1", kNow + 1), kNow + 1);
  });

  int ok = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.has_value()) << "a coroutine threw";
    if (r->has_value())
      ++ok;
    else
      EXPECT_EQ(r->error().code, core::Errc::kUnauthenticated) << r->error().internal;
  }
  EXPECT_EQ(ok, 1);
  // The losers were replays of a spent token, so no successor survives.
  for (int i = 0; i < kClients; ++i) {
    SHOPD_EXPECT_ERRC(Rotate("n" + std::to_string(i), "x" + std::to_string(i), kNow + 2),
                      core::Errc::kUnauthenticated);
  }
}

}  // namespace shopd::storage::contract
