// app: background housekeeping — periodic, bounded jobs that no request waits
// for (purging expired refresh tokens) — on one io_context thread of its own,
// away from the reactors.
//
//   Maintenance m;
//   m.Add({"refresh-token-purge", std::chrono::minutes(5), [&] { return PurgeOnce(); }});
//   m.Start();
//   ...
//   m.Stop();   // cancels the waits; a job that is running finishes first
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace shopd::app {

struct MaintenanceJob {
  std::string name;                                  // for logs
  std::chrono::milliseconds interval;                // between the end of one run and the next
  std::function<boost::asio::awaitable<void>()> run; // must bound its own work
};

class Maintenance {
 public:
  Maintenance();
  // Stops (if still running) and joins the thread.
  ~Maintenance();
  Maintenance(const Maintenance&) = delete;
  Maintenance& operator=(const Maintenance&) = delete;

  // Before Start only.
  void Add(MaintenanceJob job);
  // Starts every job's loop (first run after one interval). Call once.
  void Start();
  // Idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shopd::app
