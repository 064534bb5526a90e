#include "ratelimit/redis/redis_rate_limiter.h"

#include <utility>
#include <vector>

#include "ratelimit/stored_key.h"
#include "redis/redis_client.h"
#include "redis/redis_script.h"

namespace shopd::ratelimit {
namespace {

using redis::RedisReply;

// KEYS[1]: the key's TAT (ms). ARGV: mode (hit|peek|refund), limit, window
// ms, test time offset ms. Returns {allowed (0|1), retry after ms}.
// Integer milliseconds below 2^53 are exact in Lua's doubles; %.0f writes
// them without tostring's exponent.
const redis::RedisScript& GcraScript() {
  static const redis::RedisScript script(R"lua(
local mode = ARGV[1]
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[4])
local interval = math.max(1, math.floor(window / limit))
local stored = tonumber(redis.call('GET', KEYS[1]))
if mode == 'refund' then
  if not stored then return {1, 0} end
  local tat = stored - interval
  if tat <= now then
    redis.call('DEL', KEYS[1])
  else
    redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', string.format('%.0f', tat - now))
  end
  return {1, 0}
end
local tat = stored or now
if tat < now then tat = now end
local next_tat = tat + interval
local excess = next_tat - now - interval * limit
if excess > 0 then return {0, excess} end
if mode == 'hit' then
  redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', string.format('%.0f', next_tat - now))
end
return {1, 0}
)lua");
  return script;
}

core::Error Internal(std::string detail) {
  return core::Error::Make(core::Errc::kInternal, "internal error", "ratelimit/redis: " + std::move(detail));
}

}  // namespace

RedisRateLimiter::RedisRateLimiter(redis::RedisClient& client, RedisRateLimiterOptions options)
    : client_(client), options_(std::move(options)) {}

std::string RedisRateLimiter::RedisKey(std::string_view key) const { return options_.key_prefix + StoredKey(key); }

boost::asio::awaitable<core::Result<Decision>> RedisRateLimiter::Hit(std::string_view key, int limit,
                                                                     int64_t window_ms) {
  if (limit <= 0) co_return Decision{false, window_ms};
  co_return co_await Run(key, limit, window_ms, "hit");
}

boost::asio::awaitable<core::Result<Decision>> RedisRateLimiter::Peek(std::string_view key, int limit,
                                                                      int64_t window_ms) {
  if (limit <= 0) co_return Decision{false, window_ms};
  co_return co_await Run(key, limit, window_ms, "peek");
}

boost::asio::awaitable<core::Result<void>> RedisRateLimiter::Refund(std::string_view key, int limit,
                                                                    int64_t window_ms) {
  if (limit <= 0) co_return core::Result<void>{};
  core::Result<Decision> r = co_await Run(key, limit, window_ms, "refund");
  if (!r) co_return r.error();
  co_return core::Result<void>{};
}

boost::asio::awaitable<core::Result<Decision>> RedisRateLimiter::Run(std::string_view key, int limit,
                                                                     int64_t window_ms, const char* mode) {
  const int64_t offset_ms = options_.test_time_offset ? options_.test_time_offset->MonotonicMs() : 0;
  std::vector<std::string> keys{RedisKey(key)};
  std::vector<std::string> args{mode, std::to_string(limit), std::to_string(window_ms), std::to_string(offset_ms)};
  core::Result<RedisReply> r = co_await GcraScript().Run(client_, std::move(keys), std::move(args));
  if (!r) co_return r.error();
  if (r->IsError()) co_return Internal("the GCRA script failed: " + r->Describe());
  if (r->type != RedisReply::Type::kArray || r->elements.size() != 2 ||
      r->elements[0].type != RedisReply::Type::kInteger || r->elements[1].type != RedisReply::Type::kInteger)
    co_return Internal("unexpected GCRA reply " + r->Describe());
  co_return Decision{r->elements[0].integer == 1, r->elements[1].integer};
}

}  // namespace shopd::ratelimit
