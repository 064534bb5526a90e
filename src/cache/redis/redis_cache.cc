#include "cache/redis/redis_cache.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <utility>
#include <vector>

#include "core/random.h"
#include "obs/log.h"
#include "redis/redis_client.h"
#include "redis/redis_script.h"

namespace shopd::cache {
namespace {

namespace asio = boost::asio;
using redis::RedisReply;
using redis::RedisScript;
using std::chrono::milliseconds;

// Far beyond any cache TTL, and well inside what Redis accepts for PX.
constexpr milliseconds kMaxTtl{100LL * 365 * 24 * 3600 * 1000};

// KEYS: value, lease. ARGV: token, lease ms. {1, value} on a hit, {2} when
// this caller now holds the lease, {0} when another load holds it.
const RedisScript& GetOrLeaseScript() {
  static const RedisScript script(R"lua(
local v = redis.call('GET', KEYS[1])
if v then return {1, v} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2} end
return {0}
)lua");
  return script;
}

// KEYS: value, lease. ARGV: token, value, ttl ms. Stores only while the lease
// is still ours: a Set or Delete since then removed it. 1 when stored.
const RedisScript& FillScript() {
  static const RedisScript script(R"lua(
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
)lua");
  return script;
}

// KEYS: lease. ARGV: token. Gives the lease up if it is still ours.
const RedisScript& ReleaseScript() {
  static const RedisScript script(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua");
  return script;
}

// KEYS: value, lease. ARGV: value, ttl ms. A write also ends any load in
// progress, which may have read the database before it.
const RedisScript& SetScript() {
  static const RedisScript script(R"lua(
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
)lua");
  return script;
}

const char* OpName(int op) {
  static constexpr const char* kNames[] = {"get", "set", "delete", "load"};
  return kNames[op];
}

std::string Describe(const core::Result<RedisReply>& r) {
  return r ? "unexpected reply " + r->Describe() : r.error().internal;
}

std::string TtlText(milliseconds ttl) { return std::to_string(std::min(ttl, kMaxTtl).count()); }

}  // namespace

// Gives the lease back when a load ends without storing, including when the
// loading coroutine unwinds; the release is sent without waiting, so it also
// works from a destructor.
class RedisCache::LeaseGuard {
 public:
  LeaseGuard(redis::RedisClient& client, std::string lease_key, std::string token)
      : client_(client), lease_key_(std::move(lease_key)), token_(std::move(token)) {}
  ~LeaseGuard() {
    if (!done_) Release();
  }
  LeaseGuard(const LeaseGuard&) = delete;
  LeaseGuard& operator=(const LeaseGuard&) = delete;

  void Done() { done_ = true; }
  // EVAL rather than EVALSHA: nothing waits here to load the script on NOSCRIPT.
  void Release() {
    done_ = true;
    client_.Send({"EVAL", ReleaseScript().source(), "1", lease_key_, token_});
  }

 private:
  redis::RedisClient& client_;
  std::string lease_key_;
  std::string token_;
  bool done_ = false;
};

RedisCache::RedisCache(redis::RedisClient& client, RedisCacheOptions options, obs::MetricsRegistry* metrics,
                       std::string name)
    : client_(client),
      options_(std::move(options)),
      name_(std::move(name)),
      flights_(options_.max_waiters_per_key),
      error_log_(options_.error_log_interval),
      hits_(&own_hits_),
      misses_(&own_misses_),
      lease_timeouts_(&own_lease_timeouts_) {
  for (int op = 0; op < 4; ++op) errors_[op] = &own_errors_[op];
  if (metrics == nullptr) return;
  const obs::Labels labels{{"cache", name_}};
  hits_ = &metrics->GetCounter("shopd_cache_hits_total", "Cache lookups that found a live entry.", labels);
  misses_ = &metrics->GetCounter("shopd_cache_misses_total", "Cache lookups that found no live entry.", labels);
  lease_timeouts_ = &metrics->GetCounter(
      "shopd_cache_lease_wait_timeouts_total",
      "GetOrLoad calls that stopped waiting for another process's load of the key and loaded it themselves.", labels);
  for (int op = 0; op < 4; ++op) {
    errors_[op] = &metrics->GetCounter(
        "shopd_cache_backend_errors_total",
        "Cache operations answered without the cache server (down, slow or refusing): misses, dropped writes.",
        {{"cache", name_}, {"op", OpName(op)}});
  }
}

std::string RedisCache::ValueKey(std::string_view key) const {
  std::string out = options_.key_prefix;
  out += "cache:";
  out += key;
  return out;
}

std::string RedisCache::LeaseKey(std::string_view key) const {
  std::string out = options_.key_prefix;
  out += "lease:";
  out += key;
  return out;
}

void RedisCache::BackendError(Op op, const std::string& detail) {
  errors_[static_cast<int>(op)]->Inc();
  if (uint64_t suppressed = 0; error_log_.Allow(suppressed)) {
    obs::LogWarn("cache_backend_error",
                 {{"cache", name_}, {"op", OpName(static_cast<int>(op))}, {"error", detail}, {"suppressed", suppressed}});
  }
}

asio::awaitable<std::optional<std::string>> RedisCache::Get(std::string key) {
  std::vector<std::string> args{"GET", ValueKey(key)};
  core::Result<RedisReply> r = co_await client_.Command(std::move(args));
  if (r && r->type == RedisReply::Type::kString) {
    hits_->Inc();
    co_return std::move(r->str);
  }
  misses_->Inc();
  if (!r || !r->IsNil()) BackendError(Op::kGet, Describe(r));
  co_return std::nullopt;
}

asio::awaitable<void> RedisCache::Set(std::string key, std::string value, milliseconds ttl) {
  flights_.Detach(key);
  core::Result<RedisReply> r;
  if (ttl.count() <= 0 || value.size() > options_.max_value_bytes) {
    // Declined; the previous value must not outlive the write either way.
    std::vector<std::string> args{"DEL", ValueKey(key), LeaseKey(key)};
    r = co_await client_.Command(std::move(args));
  } else {
    std::vector<std::string> keys{ValueKey(key), LeaseKey(key)};
    std::vector<std::string> args{std::move(value), TtlText(ttl)};
    r = co_await SetScript().Run(client_, std::move(keys), std::move(args));
  }
  if (!r || r->IsError()) BackendError(Op::kSet, Describe(r));
}

asio::awaitable<void> RedisCache::Delete(std::string key) {
  flights_.Detach(key);
  std::vector<std::string> args{"DEL", ValueKey(key), LeaseKey(key)};
  core::Result<RedisReply> r = co_await client_.Command(std::move(args));
  if (!r || r->IsError()) BackendError(Op::kDelete, Describe(r));
}

asio::awaitable<core::Result<std::string>> RedisCache::GetOrLoad(std::string key, milliseconds ttl, Loader load) {
  detail::SingleFlight::Turn turn = co_await flights_.Join(key);
  if (!turn.lead) co_return std::move(*turn.result);
  core::Result<std::string> result = co_await LoadShared(std::move(key), ttl, std::move(load));
  turn.lead->Finish(result);
  co_return result;
}

asio::awaitable<core::Result<std::string>> RedisCache::LoadShared(std::string key, milliseconds ttl, Loader load) {
  const std::string value_key = ValueKey(key);
  const std::string lease_key = LeaseKey(key);
  const std::string token = core::FastId();
  const auto give_up = std::chrono::steady_clock::now() + options_.lease_wait;
  milliseconds poll = std::max(options_.lease_poll_min, milliseconds(1));
  bool counted = false;
  for (;;) {
    std::vector<std::string> keys{value_key, lease_key};
    std::vector<std::string> args{token, TtlText(options_.lease_ttl)};
    core::Result<RedisReply> r = co_await GetOrLeaseScript().Run(client_, std::move(keys), std::move(args));
    const bool well_formed = r && r->type == RedisReply::Type::kArray && !r->elements.empty() &&
                             r->elements[0].type == RedisReply::Type::kInteger;
    if (!well_formed) {
      if (!counted) misses_->Inc();
      BackendError(Op::kLoad, Describe(r));
      co_return co_await load();
    }
    const int64_t outcome = r->elements[0].integer;
    if (!counted) {
      (outcome == 1 ? hits_ : misses_)->Inc();
      counted = true;
    }
    if (outcome == 1 && r->elements.size() == 2) co_return std::move(r->elements[1].str);
    if (outcome == 2) break;
    // Another process is loading the key: its value should appear shortly.
    const auto now = std::chrono::steady_clock::now();
    if (now >= give_up) {
      lease_timeouts_->Inc();
      co_return co_await load();
    }
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(std::min<std::chrono::steady_clock::duration>(poll, give_up - now));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    poll = std::min(poll * 2, options_.lease_poll_max);
  }

  LeaseGuard lease(client_, lease_key, token);
  core::Result<std::string> result = co_await load();
  if (!result || ttl.count() <= 0 || result->size() > options_.max_value_bytes) {
    lease.Release();
    co_return result;
  }
  std::vector<std::string> keys{value_key, lease_key};
  std::vector<std::string> args{token, *result, TtlText(ttl)};
  core::Result<RedisReply> filled = co_await FillScript().Run(client_, std::move(keys), std::move(args));
  if (filled && filled->type == RedisReply::Type::kInteger) {
    lease.Done();  // stored (and the lease deleted), or the lease was already gone
  } else {
    BackendError(Op::kSet, Describe(filled));
  }
  co_return result;
}

}  // namespace shopd::cache
