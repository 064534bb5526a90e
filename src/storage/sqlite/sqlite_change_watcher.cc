#include "storage/sqlite/sqlite_change_watcher.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "obs/log.h"

namespace shopd::storage::sqlite {

namespace asio = boost::asio;

struct SqliteChangeWatcher::State : std::enable_shared_from_this<State> {
  State(asio::any_io_executor ex, std::string path, std::function<void()> cb, std::chrono::milliseconds gap)
      : strand(asio::make_strand(ex)),
        descriptor(strand),
        gap_timer(strand),
        done(strand, asio::steady_timer::time_point::max()),
        db_path(std::move(path)),
        on_change(std::move(cb)),
        min_gap(gap) {}

  // True when the events in `bytes` name a file of this database.
  bool Concerns(const char* bytes, size_t n) const {
    for (size_t at = 0; at + sizeof(inotify_event) <= n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(bytes + at);
      if (e->mask & IN_Q_OVERFLOW) return true;  // events were lost: assume a change
      if (e->len > 0) {
        std::string_view name(e->name, ::strnlen(e->name, e->len));
        if (name == wal_name || name == db_name) return true;
      }
      at += sizeof(inotify_event) + e->len;
    }
    return false;
  }

  // Static, with the state as a by-value parameter, so the coroutine frame
  // owns a reference (no lambda coroutines: GCC 12 destroys their captures twice).
  static asio::awaitable<void> Loop(std::shared_ptr<State> self) {
    State& s = *self;
    alignas(inotify_event) char buf[4096];
    while (!s.stopping) {
      auto [ec, n] = co_await s.descriptor.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
      if (ec || s.stopping) break;
      if (!s.Concerns(buf, n)) continue;
      s.wakes.fetch_add(1, std::memory_order_relaxed);
      s.on_change();
      // Whatever arrives during the gap is read in one go after it.
      s.gap_timer.expires_after(s.min_gap);
      co_await s.gap_timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    s.finished = true;
    s.done.cancel();
  }

  static asio::awaitable<void> StopOnStrand(std::shared_ptr<State> self) {
    self->stopping = true;
    boost::system::error_code ec;
    self->descriptor.close(ec);
    self->gap_timer.cancel();
    while (!self->finished) co_await self->done.async_wait(asio::as_tuple(asio::use_awaitable));
  }

  asio::strand<asio::any_io_executor> strand;
  asio::posix::stream_descriptor descriptor;
  asio::steady_timer gap_timer;
  asio::steady_timer done;
  const std::string db_path;
  std::string db_name, wal_name;
  const std::function<void()> on_change;
  const std::chrono::milliseconds min_gap;
  bool started = false;
  bool stopping = false;
  bool finished = true;
  std::atomic<uint64_t> wakes{0};
};

SqliteChangeWatcher::SqliteChangeWatcher(asio::any_io_executor executor, std::string db_path,
                                         std::function<void()> on_change, std::chrono::milliseconds min_gap)
    : state_(std::make_shared<State>(std::move(executor), std::move(db_path), std::move(on_change), min_gap)) {}

// Without Stop(), the loop (which holds the state) ends when its execution
// context is destroyed; nothing may be posted here, as that context may
// already have shut down.
SqliteChangeWatcher::~SqliteChangeWatcher() = default;

core::Result<void> SqliteChangeWatcher::Start() {
  State& s = *state_;
  if (s.started) return core::Error::Make(core::Errc::kInternal, "change watcher started twice");
  const std::filesystem::path path(s.db_path);
  s.db_name = path.filename().string();
  s.wal_name = s.db_name + "-wal";
  std::string dir = path.parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return core::Error::Make(core::Errc::kUnavailable, "inotify unavailable", std::strerror(errno));
  // The directory, not the file: the WAL is created and removed with the
  // database's connections, and a watch on the directory outlives that.
  if (::inotify_add_watch(fd, dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0) {
    const int err = errno;
    ::close(fd);
    return core::Error::Make(core::Errc::kUnavailable, "cannot watch " + dir, std::strerror(err));
  }
  s.descriptor.assign(fd);
  s.started = true;
  s.finished = false;
  asio::co_spawn(s.strand, State::Loop(state_), [self = state_](std::exception_ptr e) {
    if (e) obs::LogError("sqlite_change_watcher_crashed", {{"error", core::ExceptionText(e)}});
    self->finished = true;
    self->done.cancel();
  });
  return {};
}

asio::awaitable<void> SqliteChangeWatcher::Stop() {
  co_await asio::co_spawn(state_->strand, State::StopOnStrand(state_), asio::use_awaitable);
}

uint64_t SqliteChangeWatcher::wakes() const { return state_->wakes.load(std::memory_order_relaxed); }

}  // namespace shopd::storage::sqlite
