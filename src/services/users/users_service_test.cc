#include "services/users/users_service.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/testing/async_test_util.h"
#include "ratelimit/memory/memory_rate_limiter.h"
#include "services/users/token_authenticator.h"
#include "storage/sqlite/sqlite_test_util.h"
#include "storage/sqlite/sqlite_user_store.h"

namespace shopd::services {
namespace {

using core::Errc;
using storage::sqlite::test_util::OpenOrDie;
using storage::sqlite::test_util::TempDir;

constexpr const char* kPassword = "correct horse battery";
constexpr const char* kSecret = "unit-test-secret-0123456789abcdef-0123456789";

UsersConfig TestConfig() {
  UsersConfig c;
  // The cheapest argon2id there is: these tests count hashes, they do not time them.
  c.argon2 = auth::Argon2Params{.memory_kib = 8, .iterations = 1, .parallelism = 1};
  c.login_slowdown_max_ms = 1;
  return c;
}

// Forwards to a real store and counts the calls, so a test can tell which
// requests reached the database at all, and which of them wrote.
class CountingStore final : public storage::UserStore {
 public:
  explicit CountingStore(storage::UserStore& inner) : inner_(inner) {}
  int calls() const { return calls_; }
  int writes() const { return writes_; }

  storage::Async<storage::User> CreateUser(storage::User u) override {
    return Write(inner_.CreateUser(std::move(u)));
  }
  storage::Async<storage::User> FindUserByEmail(std::string e) override {
    return Count(inner_.FindUserByEmail(std::move(e)));
  }
  storage::Async<storage::User> FindUserById(std::string id) override {
    return Count(inner_.FindUserById(std::move(id)));
  }
  storage::Async<storage::User> CreateUserIfAbsent(storage::User u) override {
    return Write(inner_.CreateUserIfAbsent(std::move(u)));
  }
  storage::Async<storage::User> RevokeSessions(storage::SessionRevocation r, int64_t now) override {
    return Write(inner_.RevokeSessions(std::move(r), now));
  }
  storage::Async<void> InsertRefreshToken(storage::RefreshToken t, int64_t version) override {
    return Write(inner_.InsertRefreshToken(std::move(t), version));
  }
  storage::Async<storage::StoredRefreshToken> FindRefreshToken(std::string h) override {
    return Count(inner_.FindRefreshToken(std::move(h)));
  }
  storage::Async<storage::Rotation> RotateRefreshToken(std::string h, storage::RefreshToken next, int64_t now,
                                                       int64_t oldest_family_start) override {
    return Write(inner_.RotateRefreshToken(std::move(h), std::move(next), now, oldest_family_start));
  }
  storage::Async<void> RevokeRefreshFamily(std::string h, int64_t now) override {
    return Write(inner_.RevokeRefreshFamily(std::move(h), now));
  }
  storage::Async<int64_t> PurgeRefreshTokens(int64_t now, int64_t oldest_family_start, int64_t limit) override {
    return Write(inner_.PurgeRefreshTokens(now, oldest_family_start, limit));
  }
  storage::Async<void> Ping() override { return Count(inner_.Ping()); }

 private:
  template <class T>
  T Count(T aw) {
    ++calls_;
    return aw;
  }
  template <class T>
  T Write(T aw) {
    ++writes_;
    return Count(std::move(aw));
  }
  storage::UserStore& inner_;
  int calls_ = 0;
  int writes_ = 0;
};

// A pool whose threads can be held busy, to fill its queue on purpose.
class Gate {
 public:
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

class UsersServiceTest : public ::testing::Test {
 protected:
  explicit UsersServiceTest(UsersConfig config = TestConfig(), size_t hash_threads = 2, size_t hash_queue = 64)
      : config_(config),
        db_(OpenOrDie(dir_.path())),
        hash_pool_(hash_threads, hash_queue, "test-hash"),
        sqlite_store_(*db_, db_pool_),
        store_(sqlite_store_),
        limiter_(clock_),
        jwt_(kSecret),
        users_(config_, store_, limiter_, hash_pool_, jwt_, clock_) {}

  template <class T>
  T Await(boost::asio::awaitable<T> aw) {
    return shopd::testing::AwaitOn(io_, std::move(aw));
  }

  // Starts every coroutine at once on the test's io_context; returns their results.
  template <class T>
  std::vector<core::Result<T>> RunTogether(std::vector<boost::asio::awaitable<core::Result<T>>> tasks) {
    std::vector<std::optional<core::Result<T>>> slots(tasks.size());
    io_.restart();
    for (size_t i = 0; i < tasks.size(); ++i) {
      boost::asio::co_spawn(io_, std::move(tasks[i]), [&slots, i](std::exception_ptr e, core::Result<T> r) {
        if (e) std::rethrow_exception(e);
        slots[i].emplace(std::move(r));
      });
    }
    io_.run();
    std::vector<core::Result<T>> out;
    for (auto& s : slots) out.push_back(std::move(*s));
    return out;
  }

  storage::User MakeAccount(const std::string& email) {
    auto u = Await(users_.Register({email, kPassword, "Test"}, "10.0.0.1"));
    if (!u) throw std::runtime_error(u.error().message);
    return *u;
  }

  UsersConfig config_;
  TempDir dir_;
  std::unique_ptr<storage::sqlite::SqliteDatabase> db_;
  exec::WorkerPool db_pool_{2, 256, "test-db"};
  exec::WorkerPool hash_pool_;
  storage::sqlite::SqliteUserStore sqlite_store_;
  CountingStore store_;
  core::ManualClock clock_;
  ratelimit::MemoryRateLimiter limiter_;
  auth::JwtCodec jwt_;
  UsersService users_;
  boost::asio::io_context io_;
};

TEST_F(UsersServiceTest, ConcurrentGuessesAreReservedBeforeVerifying) {
  MakeAccount("victim@example.com");
  const uint64_t before = users_.password_verifications();
  std::vector<Async<TokenPair>> tasks;
  for (int i = 0; i < 60; ++i) tasks.push_back(users_.Login("victim@example.com", "wrong password", "10.0.0.9"));
  auto results = RunTogether(std::move(tasks));

  int unauthenticated = 0, limited = 0;
  for (const auto& r : results) {
    ASSERT_FALSE(r.has_value());
    if (r.error().code == Errc::kUnauthenticated) ++unauthenticated;
    if (r.error().code == Errc::kRateLimited) {
      ++limited;
      EXPECT_GE(r.error().retry_after_s, 1);
    }
  }
  const auto budget = static_cast<uint64_t>(config_.login_failures_per_account_ip);
  EXPECT_EQ(users_.password_verifications() - before, budget);
  EXPECT_EQ(unauthenticated, config_.login_failures_per_account_ip);
  EXPECT_EQ(limited, 60 - config_.login_failures_per_account_ip);
}

TEST_F(UsersServiceTest, SuccessfulLoginsGiveTheirReservationBack) {
  MakeAccount("happy@example.com");
  for (int i = 0; i < 3 * config_.login_failures_per_account_ip; ++i) {
    auto r = Await(users_.Login("happy@example.com", kPassword, "10.0.0.2"));
    ASSERT_TRUE(r) << i << ": " << r.error().message;
  }
  // The budget for failures is still whole.
  for (int i = 0; i < config_.login_failures_per_account_ip; ++i) {
    auto r = Await(users_.Login("happy@example.com", "wrong password", "10.0.0.2"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::kUnauthenticated) << i;
  }
  auto over = Await(users_.Login("happy@example.com", "wrong password", "10.0.0.2"));
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, Errc::kRateLimited);
}

TEST_F(UsersServiceTest, StrangersCannotLockTheOwnerOut) {
  MakeAccount("owner@example.com");
  // Two addresses spend their whole budgets, and more, on the account.
  for (const char* ip : {"10.0.0.7", "10.0.0.8"})
    for (int i = 0; i < 50; ++i) (void)Await(users_.Login("owner@example.com", "guess", ip));
  auto owner = Await(users_.Login("owner@example.com", kPassword, "10.0.0.3"));
  ASSERT_TRUE(owner) << owner.error().message;
  // The strangers themselves stay refused.
  auto again = Await(users_.Login("owner@example.com", kPassword, "10.0.0.7"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kRateLimited);
}

class UsersServiceCeilingTest : public UsersServiceTest {
 protected:
  static UsersConfig Config() {
    UsersConfig c = TestConfig();
    c.login_failures_per_account = 6;
    return c;
  }
  UsersServiceCeilingTest() : UsersServiceTest(Config()) {}
};

TEST_F(UsersServiceCeilingTest, AnAccountOverItsCeilingIsSlowedNotRefused) {
  MakeAccount("popular@example.com");
  // Four addresses, five failures each: 20 failures, over the ceiling of 6.
  for (int a = 0; a < 4; ++a)
    for (int i = 0; i < 5; ++i) {
      auto r = Await(users_.Login("popular@example.com", "guess", "10.0.1." + std::to_string(a)));
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code, Errc::kUnauthenticated) << "address " << a << " attempt " << i;
    }
  EXPECT_GT(users_.logins_slowed(), 0u);
  const uint64_t slowed = users_.logins_slowed();
  auto owner = Await(users_.Login("popular@example.com", kPassword, "10.0.2.1"));
  ASSERT_TRUE(owner) << owner.error().message;
  EXPECT_EQ(users_.logins_slowed(), slowed + 1);
}

TEST_F(UsersServiceTest, OversizedFieldsAreRefusedBeforeAnyWork) {
  MakeAccount("ann@example.com");
  const size_t keys = limiter_.size();
  const uint64_t verified = users_.password_verifications();
  const int store_calls = store_.calls();

  const std::string long_email = std::string(15 * 1024, 'a') + "@example.com";
  auto login = Await(users_.Login(long_email, kPassword, "10.0.0.4"));
  ASSERT_FALSE(login);
  EXPECT_EQ(login.error().code, Errc::kInvalidArgument);
  ASSERT_EQ(login.error().field_errors.size(), 1u);
  EXPECT_EQ(login.error().field_errors[0].field, "email");

  auto long_password = Await(users_.Login("ann@example.com", std::string(1025, 'p'), "10.0.0.4"));
  ASSERT_FALSE(long_password);
  EXPECT_EQ(long_password.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(long_password.error().field_errors[0].field, "password");
  // 1024 bytes is still a (wrong) password.
  auto at_bound = Await(users_.Login("ann@example.com", std::string(1024, 'p'), "10.0.0.5"));
  ASSERT_FALSE(at_bound);
  EXPECT_EQ(at_bound.error().code, Errc::kUnauthenticated);
  const size_t keys_after_bound = limiter_.size();

  const int store_calls_after_bound = store_.calls();
  auto reg = Await(users_.Register({long_email, kPassword, std::string(15 * 1024, 'n')}, "10.0.0.6"));
  ASSERT_FALSE(reg);
  EXPECT_EQ(reg.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(reg.error().field_errors.size(), 2u);

  auto refresh = Await(users_.Refresh(std::string(15 * 1024, 'r'), "10.0.0.6"));
  ASSERT_FALSE(refresh);
  EXPECT_EQ(refresh.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(refresh.error().field_errors[0].field, "refresh_token");
  auto logout = Await(users_.Logout(std::string(15 * 1024, 'r'), false, "10.0.0.6"));
  ASSERT_FALSE(logout);
  EXPECT_EQ(logout.error().code, Errc::kInvalidArgument);

  // Only the in-bounds attempt touched the limiter or the hasher.
  EXPECT_EQ(keys_after_bound, keys + 3);  // its pair, address and account keys
  EXPECT_EQ(limiter_.size(), keys_after_bound);
  EXPECT_EQ(users_.password_verifications(), verified + 1);
  EXPECT_EQ(store_calls_after_bound, store_calls + 1);  // its user lookup
  EXPECT_EQ(store_.calls(), store_calls_after_bound);
}

TEST_F(UsersServiceTest, MalformedRefreshTokensAreRefusedWithoutTheStore) {
  const int calls = store_.calls();
  for (const std::string& token : std::vector<std::string>{"", "short", std::string(42, 'a'), std::string(42, 'a') + "!"}) {
    auto r = Await(users_.Refresh(token, "10.0.0.1"));
    ASSERT_FALSE(r) << token;
    EXPECT_EQ(r.error().code, Errc::kUnauthenticated) << token;
    EXPECT_EQ(r.error().type, "invalid-refresh-token");
    EXPECT_TRUE(Await(users_.Logout(token, false, "10.0.0.1"))) << token;
    auto all = Await(users_.Logout(token, true, "10.0.0.1"));
    ASSERT_FALSE(all) << token;
    EXPECT_EQ(all.error().code, Errc::kUnauthenticated) << token;
  }
  EXPECT_EQ(store_.calls(), calls);
}

class UsersServiceFullPoolTest : public UsersServiceTest {
 protected:
  UsersServiceFullPoolTest() : UsersServiceTest(TestConfig(), /*hash_threads=*/1, /*hash_queue=*/1) {}
};

TEST_F(UsersServiceFullPoolTest, AFullHashPoolAnswersUnavailableAtOnceAndCountsNothing) {
  MakeAccount("busy@example.com");
  Gate gate;
  // Hold the one hash thread, then fill the one queue slot.
  std::atomic<bool> running{false};
  auto blocker = [&]() -> core::Result<int> {
    running = true;
    gate.Wait();
    return 0;
  };
  boost::asio::io_context side;
  boost::asio::co_spawn(side, hash_pool_.Run(blocker), boost::asio::detached);
  side.poll();
  ASSERT_TRUE(shopd::testing::EventuallyTrue([&] { return running.load(); }));
  boost::asio::co_spawn(side, hash_pool_.Run([]() -> core::Result<int> { return 1; }), boost::asio::detached);
  side.poll();
  ASSERT_TRUE(shopd::testing::EventuallyTrue([&] { return hash_pool_.queued() == 1; }));

  const uint64_t verified = users_.password_verifications();
  for (int i = 0; i < 2 * config_.login_failures_per_account_ip; ++i) {
    auto r = Await(users_.Login("busy@example.com", "wrong password", "10.0.0.5"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::kUnavailable) << i;
    EXPECT_GE(r.error().retry_after_s, 1);
  }
  auto reg = Await(users_.Register({"new@example.com", kPassword, "New"}, "10.0.0.5"));
  ASSERT_FALSE(reg);
  EXPECT_EQ(reg.error().code, Errc::kUnavailable);
  EXPECT_EQ(users_.password_verifications(), verified);

  gate.Open();
  ASSERT_TRUE(shopd::testing::EventuallyTrue([&] { return hash_pool_.queued() == 0; }));
  // None of the refused attempts was counted against the address or the account.
  for (int i = 0; i < config_.login_failures_per_account_ip; ++i) {
    auto r = Await(users_.Login("busy@example.com", "wrong password", "10.0.0.5"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::kUnauthenticated) << i;
  }
  side.run();
}


// --- refresh and logout ------------------------------------------------------

// A well-formed token that was never issued.
const std::string kUnknownToken(kRefreshTokenChars, 'x');

TEST_F(UsersServiceTest, UnknownRefreshTokensAreAnsweredFromAReadWithoutAnyWrite) {
  MakeAccount("reader@example.com");
  const int writes = store_.writes();
  const int calls = store_.calls();
  auto refresh = Await(users_.Refresh(kUnknownToken, "10.0.0.1"));
  ASSERT_FALSE(refresh);
  EXPECT_EQ(refresh.error().code, Errc::kUnauthenticated);
  EXPECT_EQ(refresh.error().type, "invalid-refresh-token");
  EXPECT_TRUE(Await(users_.Logout(kUnknownToken, false, "10.0.0.1")));
  auto all = Await(users_.Logout(kUnknownToken, true, "10.0.0.1"));
  ASSERT_FALSE(all);
  EXPECT_EQ(all.error().code, Errc::kUnauthenticated);
  EXPECT_EQ(store_.writes(), writes);
  EXPECT_EQ(store_.calls(), calls + 3);  // one read each
}

TEST_F(UsersServiceTest, RevokedAndExpiredRefreshTokensAreAnsweredWithoutAWrite) {
  MakeAccount("old@example.com");
  auto pair = Await(users_.Login("old@example.com", kPassword, "10.0.0.1"));
  ASSERT_TRUE(pair);
  ASSERT_TRUE(Await(users_.Logout(pair->refresh_token, false, "10.0.0.1")));
  int writes = store_.writes();
  EXPECT_FALSE(Await(users_.Refresh(pair->refresh_token, "10.0.0.1")));
  EXPECT_TRUE(Await(users_.Logout(pair->refresh_token, false, "10.0.0.1")));  // already over
  EXPECT_EQ(store_.writes(), writes);

  auto other = Await(users_.Login("old@example.com", kPassword, "10.0.0.1"));
  ASSERT_TRUE(other);
  clock_.SetUnixSeconds(clock_.UnixSeconds() + config_.refresh_token_ttl_s);
  writes = store_.writes();
  EXPECT_FALSE(Await(users_.Refresh(other->refresh_token, "10.0.0.1")));
  EXPECT_EQ(store_.writes(), writes);
}

// The SQLite write lock held elsewhere (a long write transaction): refusing an
// unknown token must not wait for it (nor fail with "busy").
TEST_F(UsersServiceTest, UnknownRefreshTokenIsRefusedWhileTheWriteLockIsHeld) {
  auto other = OpenOrDie(dir_.path());
  auto conn_holder = other->WithConnection([&](storage::sqlite::Connection& conn) -> core::Result<int> {
    if (auto r = conn.Exec("BEGIN IMMEDIATE"); !r) return r.error();
    auto refused = Await(users_.Refresh(kUnknownToken, "10.0.0.1"));
    auto logout = Await(users_.Logout(kUnknownToken, false, "10.0.0.1"));
    (void)conn.Exec("ROLLBACK");
    EXPECT_TRUE(logout) << logout.error().internal;
    if (refused) return 0;
    return refused.error().code == Errc::kUnauthenticated ? 1 : 2;
  });
  ASSERT_TRUE(conn_holder) << conn_holder.error().internal;
  EXPECT_EQ(*conn_holder, 1);
}

class UsersServiceTokenLimitTest : public UsersServiceTest {
 protected:
  static UsersConfig Config() {
    UsersConfig c = TestConfig();
    c.token_requests_per_ip = 3;
    return c;
  }
  UsersServiceTokenLimitTest() : UsersServiceTest(Config()) {}
};

TEST_F(UsersServiceTokenLimitTest, RefreshAndLogoutAreLimitedPerClientAddress) {
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(Await(users_.Refresh(kUnknownToken, "10.0.3.1")));
  EXPECT_TRUE(Await(users_.Logout(kUnknownToken, false, "10.0.3.1")));
  const int calls = store_.calls();
  auto refresh = Await(users_.Refresh(kUnknownToken, "10.0.3.1"));
  ASSERT_FALSE(refresh);
  EXPECT_EQ(refresh.error().code, Errc::kRateLimited);
  EXPECT_GE(refresh.error().retry_after_s, 1);
  auto logout = Await(users_.Logout(kUnknownToken, false, "10.0.3.1"));
  ASSERT_FALSE(logout);
  EXPECT_EQ(logout.error().code, Errc::kRateLimited);
  EXPECT_EQ(store_.calls(), calls);  // refused before the read
  // Another address has its own budget.
  auto other = Await(users_.Refresh(kUnknownToken, "10.0.3.2"));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, Errc::kUnauthenticated);
  // The window passes.
  clock_.AdvanceMs(config_.rate_window_s * 1000);
  auto later = Await(users_.Refresh(kUnknownToken, "10.0.3.1"));
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().code, Errc::kUnauthenticated);
}

// --- token families ----------------------------------------------------------

class UsersServiceFamilyTest : public UsersServiceTest {
 protected:
  static UsersConfig Config() {
    UsersConfig c = TestConfig();
    c.refresh_token_ttl_s = 30 * 24 * 3600;
    c.refresh_family_max_age_days = 90;
    return c;
  }
  UsersServiceFamilyTest() : UsersServiceTest(Config()) {}
};

TEST_F(UsersServiceFamilyTest, AFamilyEndsAtItsAbsoluteLifetimeHoweverFreshItsToken) {
  MakeAccount("long@example.com");
  const int64_t start = clock_.UnixSeconds();
  auto pair = Await(users_.Login("long@example.com", kPassword, "10.0.0.1"));
  ASSERT_TRUE(pair);
  std::string token = pair->refresh_token;
  // Rotate every 20 days: each token is fresh when used.
  for (int day = 20; day < 90; day += 20) {
    clock_.SetUnixSeconds(start + day * 24 * 3600);
    auto next = Await(users_.Refresh(token, "10.0.0.1"));
    ASSERT_TRUE(next) << "day " << day << ": " << next.error().internal;
    token = next->refresh_token;
  }
  // Day 80's token is 10 days old at day 90 + 1 s, but its family is over.
  clock_.SetUnixSeconds(start + 90 * 24 * 3600 + 1);
  const int writes = store_.writes();
  auto refused = Await(users_.Refresh(token, "10.0.0.1"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::kUnauthenticated);
  EXPECT_EQ(store_.writes(), writes);
  // A new login starts a new family.
  auto again = Await(users_.Login("long@example.com", kPassword, "10.0.0.1"));
  ASSERT_TRUE(again);
  EXPECT_TRUE(Await(users_.Refresh(again->refresh_token, "10.0.0.1")));
}

TEST_F(UsersServiceFamilyTest, AShorterLifetimeAppliesToFamiliesAlreadyStarted) {
  MakeAccount("cut@example.com");
  auto pair = Await(users_.Login("cut@example.com", kPassword, "10.0.0.1"));
  ASSERT_TRUE(pair);
  // The operator lowers the lifetime to one day; a second service (a restart) sees the family as too old.
  UsersConfig shorter = config_;
  shorter.refresh_family_max_age_days = 1;
  UsersService restarted(shorter, store_, limiter_, hash_pool_, jwt_, clock_);
  clock_.SetUnixSeconds(clock_.UnixSeconds() + 24 * 3600 + 1);
  auto refused = Await(restarted.Refresh(pair->refresh_token, "10.0.0.1"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::kUnauthenticated);
}

TEST_F(UsersServiceFamilyTest, ExpiredRowsArePurgedInBoundedBatches) {
  MakeAccount("purge@example.com");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Await(users_.Login("purge@example.com", kPassword, "10.0.0.1")));
  auto purged_early = Await(users_.PurgeRefreshTokens(2, 10));
  ASSERT_TRUE(purged_early);
  EXPECT_EQ(*purged_early, 0);  // all still live
  clock_.SetUnixSeconds(clock_.UnixSeconds() + config_.refresh_token_ttl_s);
  auto first = Await(users_.PurgeRefreshTokens(2, 1));  // one batch of two
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, 2);
  auto rest = Await(users_.PurgeRefreshTokens(2, 10));
  ASSERT_TRUE(rest);
  EXPECT_EQ(*rest, 3);
}

// --- revocation --------------------------------------------------------------

class UsersServiceRevocationTest : public UsersServiceTest {
 protected:
  UsersServiceRevocationTest() : auth_(jwt_, clock_, users_) {}

  // The authenticator's whole answer, confirmation included.
  core::Result<void> Authenticated(const TokenAuthenticator& auth, const std::string& access_token) {
    auto who = auth.Authenticate(access_token);
    if (!who) return who.error();
    if (!who->needs_confirmation) return {};
    return Await(auth.Confirm(*who));
  }

  TokenAuthenticator auth_;
};

TEST_F(UsersServiceRevocationTest, LogoutEverywhereEndsEverySessionAndAccessTokenAtOnce) {
  MakeAccount("all@example.com");
  auto phone = Await(users_.Login("all@example.com", kPassword, "10.0.0.1"));
  auto laptop = Await(users_.Login("all@example.com", kPassword, "10.0.0.2"));
  ASSERT_TRUE(phone && laptop);
  ASSERT_TRUE(Authenticated(auth_, phone->access_token));
  ASSERT_TRUE(Authenticated(auth_, laptop->access_token));  // now cached

  ASSERT_TRUE(Await(users_.Logout(phone->refresh_token, true, "10.0.0.1")));
  for (const auto* pair : {&*phone, &*laptop}) {
    auto refresh = Await(users_.Refresh(pair->refresh_token, "10.0.0.1"));
    ASSERT_FALSE(refresh);
    EXPECT_EQ(refresh.error().code, Errc::kUnauthenticated);
    // Refused from memory, with no confirmation round trip.
    auto who = auth_.Authenticate(pair->access_token);
    ASSERT_FALSE(who);
    EXPECT_EQ(who.error().code, Errc::kUnauthenticated);
    EXPECT_EQ(who.error().type, "token-revoked");
  }
  // A new login works, at the new version.
  auto fresh = Await(users_.Login("all@example.com", kPassword, "10.0.0.1"));
  ASSERT_TRUE(fresh);
  EXPECT_TRUE(Authenticated(auth_, fresh->access_token));
  auto rotated = Await(users_.Refresh(fresh->refresh_token, "10.0.0.1"));
  ASSERT_TRUE(rotated);
  EXPECT_TRUE(Authenticated(auth_, rotated->access_token));
}

TEST_F(UsersServiceRevocationTest, AnUncachedUserIsConfirmedAgainstTheStore) {
  MakeAccount("cold@example.com");
  auto pair = Await(users_.Login("cold@example.com", kPassword, "10.0.0.1"));
  ASSERT_TRUE(pair);
  ASSERT_TRUE(Await(users_.Logout(pair->refresh_token, true, "10.0.0.1")));
  // A process that never cached the user asks the store.
  UsersService other(config_, store_, limiter_, hash_pool_, jwt_, clock_);
  TokenAuthenticator other_auth(jwt_, clock_, other);
  auto who = other_auth.Authenticate(pair->access_token);
  ASSERT_TRUE(who);
  EXPECT_TRUE(who->needs_confirmation);
  auto confirmed = Await(other_auth.Confirm(*who));
  ASSERT_FALSE(confirmed);
  EXPECT_EQ(confirmed.error().code, Errc::kUnauthenticated);
  // ...and from then on answers from its cache.
  EXPECT_FALSE(other_auth.Authenticate(pair->access_token));
}

TEST_F(UsersServiceRevocationTest, AnotherProcessSeesTheRevocationWithinTheCacheTtl) {
  MakeAccount("far@example.com");
  auto pair = Await(users_.Login("far@example.com", kPassword, "10.0.0.1"));
  ASSERT_TRUE(pair);
  UsersService other(config_, store_, limiter_, hash_pool_, jwt_, clock_);
  TokenAuthenticator other_auth(jwt_, clock_, other);
  ASSERT_TRUE(Authenticated(other_auth, pair->access_token));  // cached there at the old version

  ASSERT_TRUE(Await(users_.Logout(pair->refresh_token, true, "10.0.0.1")));
  EXPECT_FALSE(Authenticated(auth_, pair->access_token));      // this process: at once
  EXPECT_TRUE(Authenticated(other_auth, pair->access_token));  // the other: stale, within the TTL
  clock_.AdvanceMs(config_.user_cache_ttl_s * 1000);
  EXPECT_FALSE(Authenticated(other_auth, pair->access_token));  // past the TTL: refused
}

// --- bootstrap admin ---------------------------------------------------------

TEST_F(UsersServiceTest, BootstrapAdminNeverPromotesAnExistingAccount) {
  MakeAccount("taken@example.com");
  auto admin = Await(users_.EnsureAdmin("taken@example.com", "another long password"));
  ASSERT_FALSE(admin);
  EXPECT_EQ(admin.error().code, Errc::kConflict);
  EXPECT_NE(admin.error().message.find("SHOPD_ADMIN_EMAIL"), std::string::npos);
  EXPECT_NE(admin.error().message.find("never promotes"), std::string::npos);
  auto still = Await(store_.FindUserByEmail("taken@example.com"));
  ASSERT_TRUE(still);
  EXPECT_EQ(still->role, "user");
  // The owner's password is unchanged too.
  EXPECT_TRUE(Await(users_.Login("taken@example.com", kPassword, "10.0.0.1")));
}

TEST_F(UsersServiceTest, BootstrapAdminKeepsSessionsUnlessItsPasswordChanges) {
  auto created = Await(users_.EnsureAdmin("root@example.com", kPassword));
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->role, "admin");
  auto session = Await(users_.Login("root@example.com", kPassword, "10.0.0.1"));
  ASSERT_TRUE(session);

  // A restart with the same password changes nothing.
  auto same = Await(users_.EnsureAdmin("root@example.com", kPassword));
  ASSERT_TRUE(same);
  EXPECT_EQ(same->id, created->id);
  EXPECT_EQ(same->token_version, created->token_version);
  auto rotated = Await(users_.Refresh(session->refresh_token, "10.0.0.1"));
  ASSERT_TRUE(rotated) << rotated.error().internal;

  // A new password revokes every session granted on the old one.
  auto reset = Await(users_.EnsureAdmin("root@example.com", "a brand new password"));
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->id, created->id);
  EXPECT_GT(reset->token_version, created->token_version);
  EXPECT_FALSE(Await(users_.Refresh(rotated->refresh_token, "10.0.0.1")));
  TokenAuthenticator auth(jwt_, clock_, users_);
  auto who = auth.Authenticate(rotated->access_token);
  if (who && who->needs_confirmation) {
    EXPECT_FALSE(Await(auth.Confirm(*who)));
  } else {
    EXPECT_FALSE(who);
  }
  EXPECT_FALSE(Await(users_.Login("root@example.com", kPassword, "10.0.0.1")));
  EXPECT_TRUE(Await(users_.Login("root@example.com", "a brand new password", "10.0.0.1")));
}

}  // namespace
}  // namespace shopd::services
