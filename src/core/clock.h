// core: time sources. Depends on nothing.
//
// Logic that depends on time takes a `Clock&` so tests can move time by hand
// (ManualClock) instead of sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace shopd::core {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock seconds since the Unix epoch (token iat/exp, created_at).
  virtual int64_t UnixSeconds() const = 0;
  // Monotonic milliseconds, for rate windows and timeouts.
  virtual int64_t MonotonicMs() const = 0;
  // Wall-clock milliseconds since the Unix epoch (order timestamps).
  virtual int64_t UnixMillis() const { return UnixSeconds() * 1000; }
};

class SystemClock final : public Clock {
 public:
  int64_t UnixSeconds() const override {
    using namespace std::chrono;
    return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
  }
  int64_t MonotonicMs() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  }
  int64_t UnixMillis() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  static SystemClock& Instance() {
    static SystemClock clock;
    return clock;
  }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t unix_s = 1'700'000'000) : unix_s_(unix_s) {}
  int64_t UnixSeconds() const override { return unix_s_.load(); }
  int64_t MonotonicMs() const override { return mono_ms_.load(); }
  // Both readings advance together, so the monotonic one supplies the
  // milliseconds within the wall second.
  int64_t UnixMillis() const override { return UnixSeconds() * 1000 + MonotonicMs() % 1000; }
  void AdvanceMs(int64_t ms) {
    mono_ms_ += ms;
    unix_s_ = unix_s_.load() + (mono_ms_.load() / 1000 - (mono_ms_.load() - ms) / 1000);
  }
  void SetUnixSeconds(int64_t s) { unix_s_ = s; }

 private:
  std::atomic<int64_t> unix_s_;
  std::atomic<int64_t> mono_ms_{0};
};

}  // namespace shopd::core
