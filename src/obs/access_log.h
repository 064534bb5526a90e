// obs: the per-request access log, built for 100k+ lines/s. Depends on
// metrics.h.
//
// Each thread formats its lines (the same JSON shape as log.h, msg "request")
// into its own buffer, so Write takes no lock. A buffer goes to one background
// writer thread when it passes `flush_bytes`, when its thread calls
// FlushThreadBuffer() (reactor threads do so every ~100 ms and at shutdown), or
// when its thread exits. The hand-off queue is bounded: when stdout cannot keep
// up, whole batches are dropped and counted, and request threads never block.
//
//   AccessLog access_log(AccessLogConfig{}, registry);
//   access_log.Write({.request_id = id, .method = "GET", .path = "/users/{id}",
//                     .target = "/users/42", .status = 200, .duration_ms = 1.25,
//                     .remote_ip = "10.0.0.7", .bytes_out = 512});
//   access_log.FlushThreadBuffer();   // from each reactor thread's timer
//   access_log.Stop();                // after the reactor threads flushed
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <thread>

#include "obs/fwd.h"

namespace shopd::obs {
namespace internal {
struct AccessLogCore;
}  // namespace internal

struct AccessRecord {
  std::string_view request_id;
  std::string_view method;
  std::string_view path;  // route template, e.g. /users/{id}; logged as "route"
  std::string_view target;
  int status = 0;
  double duration_ms = 0;
  std::string_view remote_ip;
  size_t bytes_out = 0;
};

struct AccessLogConfig {
  bool enabled = true;                      // false: Write is a no-op
  size_t flush_bytes = 32 * 1024;           // per-thread buffer size that triggers a hand-off
  size_t max_queued_batches = 64;           // queued + being written
  size_t max_queued_bytes = 8 * 1024 * 1024;
  int fd = 1;
  // Replaces the fd when set (tests). Called on the writer thread with whole
  // lines; it may block, which only makes the queue fill up.
  std::function<void(std::string_view batch)> sink = nullptr;
};

class AccessLog {
 public:
  explicit AccessLog(AccessLogConfig config = {});
  // Also counts drops in shopd_access_log_dropped_lines_total; `metrics` must
  // outlive Stop().
  AccessLog(AccessLogConfig config, MetricsRegistry& metrics);
  ~AccessLog();  // Stop()
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Thread-safe; lines written after Stop() are dropped.
  void Write(const AccessRecord& record);
  // Hands the calling thread's buffered lines to the writer.
  void FlushThreadBuffer();
  // Flushes the calling thread's buffer, writes out everything queued and joins
  // the writer. Lines still buffered on other live threads are lost, so those
  // threads flush first. Idempotent.
  void Stop();

  uint64_t DroppedLines() const;

 private:
  // Shared with the thread-local buffers, which may outlive *this.
  std::shared_ptr<internal::AccessLogCore> core_;
  std::thread writer_;
};

}  // namespace shopd::obs
