// app: `shopd queue ...` — inspect and repair the job queue of either
// topology, also while servers run on it: the SQLite file in --data-dir
// (WAL allows a concurrent reader and serialises the writes), or the
// PostgreSQL database --database-url names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace shopd::app {

// Which queue: `database_url` when set (postgres://, or sqlite:PATH), else
// the SQLite file in `data_dir`.
struct QueueTarget {
  std::string data_dir;
  std::string database_url;
};

int QueueStatsCommand(const QueueTarget& target);
int QueueDeadLettersCommand(const QueueTarget& target, const std::string& queue, int64_t limit,
                            std::optional<int64_t> retry_id);

}  // namespace shopd::app
