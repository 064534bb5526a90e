#include "obs/access_log.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "obs/fd_write.h"
#include "obs/json_escape.h"
#include "obs/metrics.h"

namespace shopd::obs {
namespace internal {

// State shared by the AccessLog, its writer thread and every thread's buffer.
struct AccessLogCore {
  explicit AccessLogCore(AccessLogConfig c) : config(std::move(c)) {}

  // Queues `buf` (holding `lines` lines) or drops it when the queue is full,
  // then leaves `buf` empty (with capacity when one is spare) and `lines` 0.
  void Submit(std::string& buf, size_t& lines);
  void RunWriter();

  const AccessLogConfig config;
  std::atomic<bool> stopped{false};  // writer joined; read without the lock
  std::atomic<uint64_t> dropped{0};

  std::mutex mu;
  std::condition_variable cv;
  struct Batch {
    std::string data;
    size_t lines = 0;
  };
  std::deque<Batch> queue;
  size_t pending_batches = 0;  // queued plus the one being written
  size_t pending_bytes = 0;
  std::vector<std::string> spare;  // written buffers, reused to avoid reallocating
  bool stopping = false;
  Counter* dropped_counter = nullptr;

 private:
  void DropLocked(size_t lines) {
    dropped.fetch_add(lines, std::memory_order_relaxed);
    if (dropped_counter) dropped_counter->Inc(lines);
  }
};

void AccessLogCore::Submit(std::string& buf, size_t& lines) {
  if (buf.empty()) return;
  std::unique_lock lock(mu);
  if (stopping || pending_batches >= config.max_queued_batches ||
      pending_bytes + buf.size() > config.max_queued_bytes) {
    DropLocked(lines);
    buf.clear();
    lines = 0;
    return;
  }
  ++pending_batches;
  pending_bytes += buf.size();
  queue.push_back({std::move(buf), lines});
  buf.clear();  // moved-from: valid but unspecified
  if (!spare.empty()) {
    buf = std::move(spare.back());
    spare.pop_back();
  }
  lines = 0;
  lock.unlock();
  cv.notify_one();
}

void AccessLogCore::RunWriter() {
  // Lowest CPU priority: on a busy core the log writes fill the gaps between
  // requests instead of preempting the reactor (tail latency). Under
  // saturation the bounded queue then drops lines (counted) rather than
  // delaying responses.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
  pthread_setname_np(pthread_self(), "access-log");
  std::unique_lock lock(mu);
  for (;;) {
    cv.wait(lock, [&] { return !queue.empty() || stopping; });
    if (queue.empty()) return;  // stopping, and everything is written
    Batch batch = std::move(queue.front());
    queue.pop_front();
    lock.unlock();
    bool ok = true;
    if (config.sink) {
      config.sink(batch.data);
    } else {
      ok = WriteAll(config.fd, batch.data);
    }
    lock.lock();
    if (!ok) DropLocked(batch.lines);
    --pending_batches;
    pending_bytes -= batch.data.size();
    if (spare.size() < 8 && batch.data.capacity() <= 2 * config.flush_bytes) {
      batch.data.clear();
      spare.push_back(std::move(batch.data));
    }
  }
}

}  // namespace internal

namespace {

using internal::AccessLogCore;

// One thread's pending lines for each AccessLog it has written to. Usually a
// process has exactly one AccessLog, so the lookup is one pointer compare.
class ThreadBuffers {
 public:
  struct Slot {
    std::shared_ptr<AccessLogCore> core;
    std::string buf;
    size_t lines = 0;
  };

  ThreadBuffers() = default;
  ThreadBuffers(const ThreadBuffers&) = delete;
  ThreadBuffers& operator=(const ThreadBuffers&) = delete;
  // A thread that exits hands over what it still holds.
  ~ThreadBuffers() {
    for (auto& slot : slots_) slot->core->Submit(slot->buf, slot->lines);
  }

  Slot& For(const std::shared_ptr<AccessLogCore>& core) {
    if (last_ && last_->core == core) return *last_;
    last_ = nullptr;
    for (auto& slot : slots_) {
      if (slot->core == core) return *(last_ = slot.get());
    }
    // Forget logs that were stopped; whatever they still buffer can only be dropped.
    std::erase_if(slots_, [](const std::unique_ptr<Slot>& slot) {
      if (!slot->core->stopped.load(std::memory_order_relaxed)) return false;
      slot->core->Submit(slot->buf, slot->lines);
      return true;
    });
    slots_.push_back(std::make_unique<Slot>(Slot{core, {}, 0}));
    return *(last_ = slots_.back().get());
  }

  Slot* Find(const std::shared_ptr<AccessLogCore>& core) {
    if (last_ && last_->core == core) return last_;
    for (auto& slot : slots_) {
      if (slot->core == core) return slot.get();
    }
    return nullptr;
  }

 private:
  std::vector<std::unique_ptr<Slot>> slots_;
  Slot* last_ = nullptr;
};

thread_local ThreadBuffers tls_buffers;

}  // namespace

AccessLog::AccessLog(AccessLogConfig config)
    : core_(std::make_shared<AccessLogCore>(std::move(config))) {
  if (core_->config.enabled) {
    writer_ = std::thread([core = core_] { core->RunWriter(); });
  } else {
    core_->stopping = true;
    core_->stopped = true;
  }
}

AccessLog::AccessLog(AccessLogConfig config, MetricsRegistry& metrics)
    : AccessLog(std::move(config)) {
  Counter& dropped = metrics.GetCounter("shopd_access_log_dropped_lines_total",
                                        "Access log lines dropped because output fell behind.");
  std::lock_guard lock(core_->mu);
  core_->dropped_counter = &dropped;
}

AccessLog::~AccessLog() { Stop(); }

void AccessLog::Write(const AccessRecord& r) {
  const AccessLogConfig& config = core_->config;
  if (!config.enabled) return;
  ThreadBuffers::Slot& slot = tls_buffers.For(core_);
  std::string& out = slot.buf;
  if (out.capacity() < config.flush_bytes) out.reserve(config.flush_bytes + 4096);
  out += "{\"ts\":\"";
  AppendTimestamp(out, std::chrono::system_clock::now());
  out += "\",\"level\":\"info\",\"msg\":\"request\",\"request_id\":";
  AppendJsonString(out, r.request_id);
  out += ",\"method\":";
  AppendJsonString(out, r.method);
  out += ",\"route\":";
  AppendJsonString(out, r.path);
  out += ",\"target\":";
  AppendJsonString(out, r.target);
  out += ",\"status\":";
  AppendJsonInt(out, r.status);
  out += ",\"duration_ms\":";
  AppendJsonFixed(out, r.duration_ms, 3);
  out += ",\"remote_ip\":";
  AppendJsonString(out, r.remote_ip);
  out += ",\"bytes\":";
  AppendJsonUint(out, r.bytes_out);
  out += "}\n";
  ++slot.lines;
  if (out.size() >= config.flush_bytes) core_->Submit(out, slot.lines);
}

void AccessLog::FlushThreadBuffer() {
  if (ThreadBuffers::Slot* slot = tls_buffers.Find(core_)) {
    core_->Submit(slot->buf, slot->lines);
  }
}

void AccessLog::Stop() {
  if (!writer_.joinable()) return;
  FlushThreadBuffer();
  {
    std::lock_guard lock(core_->mu);
    core_->stopping = true;
  }
  core_->cv.notify_all();
  writer_.join();
  {
    std::lock_guard lock(core_->mu);
    core_->dropped_counter = nullptr;
  }
  core_->stopped = true;
}

uint64_t AccessLog::DroppedLines() const {
  return core_->dropped.load(std::memory_order_relaxed);
}

}  // namespace shopd::obs
