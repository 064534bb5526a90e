// app: `shopd queue ...` — inspect and repair the embedded job queue on a data
// dir, also while a server runs on it (SQLite WAL allows a concurrent reader
// and serialises the writes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace shopd::app {

int QueueStatsCommand(const std::string& data_dir);
int QueueDeadLettersCommand(const std::string& data_dir, const std::string& queue, int64_t limit,
                            std::optional<int64_t> retry_id);

}  // namespace shopd::app
