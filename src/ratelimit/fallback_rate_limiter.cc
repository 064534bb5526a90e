#include "ratelimit/fallback_rate_limiter.h"

#include <utility>

#include "obs/log.h"

namespace shopd::ratelimit {
namespace {

const char* OpName(int op) {
  static constexpr const char* kNames[] = {"hit", "peek", "refund"};
  return kNames[op];
}

}  // namespace

FallbackRateLimiter::FallbackRateLimiter(FallibleRateLimiter& primary, RateLimiter& fallback,
                                         obs::MetricsRegistry* metrics, std::string name,
                                         std::chrono::milliseconds log_interval)
    : primary_(primary), fallback_(fallback), name_(std::move(name)), log_(log_interval) {
  for (int op = 0; op < 3; ++op) {
    fallbacks_[op] = metrics == nullptr
                         ? &own_[op]
                         : &metrics->GetCounter("shopd_ratelimit_fallbacks_total",
                                                "Rate-limit decisions made by the in-process limiter because the "
                                                "shared one failed or timed out.",
                                                {{"limiter", name_}, {"op", OpName(op)}});
  }
}

uint64_t FallbackRateLimiter::fallbacks() const {
  return fallbacks_[0]->Value() + fallbacks_[1]->Value() + fallbacks_[2]->Value();
}

void FallbackRateLimiter::CountFallback(Op op, const core::Error& error) {
  fallbacks_[static_cast<int>(op)]->Inc();
  if (uint64_t suppressed = 0; log_.Allow(suppressed)) {
    obs::LogWarn("ratelimit_fallback", {{"limiter", name_},
                                        {"op", OpName(static_cast<int>(op))},
                                        {"error", error.internal.empty() ? error.message : error.internal},
                                        {"suppressed", suppressed}});
  }
}

boost::asio::awaitable<Decision> FallbackRateLimiter::Hit(std::string_view key, int limit, int64_t window_ms) {
  core::Result<Decision> d = co_await primary_.Hit(key, limit, window_ms);
  if (d) co_return *d;
  CountFallback(Op::kHit, d.error());
  co_return co_await fallback_.Hit(key, limit, window_ms);
}

boost::asio::awaitable<Decision> FallbackRateLimiter::Peek(std::string_view key, int limit, int64_t window_ms) {
  core::Result<Decision> d = co_await primary_.Peek(key, limit, window_ms);
  if (d) co_return *d;
  CountFallback(Op::kPeek, d.error());
  co_return co_await fallback_.Peek(key, limit, window_ms);
}

boost::asio::awaitable<void> FallbackRateLimiter::Refund(std::string_view key, int limit, int64_t window_ms) {
  core::Result<void> r = co_await primary_.Refund(key, limit, window_ms);
  if (r) co_return;
  CountFallback(Op::kRefund, r.error());
  co_await fallback_.Refund(key, limit, window_ms);
}

}  // namespace shopd::ratelimit
