#include "storage/sqlite/sqlite_outbox.h"

namespace shopd::storage::sqlite {

core::Result<void> AppendToOutbox(Connection& conn, std::string_view topic, std::string_view key,
                                  std::string_view payload, int64_t now_ms) {
  if (topic.empty() || topic.size() > 255) {
    return core::Error::Make(core::Errc::kInvalidArgument, "event topic must be 1..255 bytes");
  }
  if (conn.InAutocommit()) {
    return core::Error::Make(core::Errc::kInternal, "internal error", "AppendToOutbox outside a transaction");
  }
  auto st = conn.Prepare("INSERT INTO outbox (topic, key, payload, created_ms) VALUES (?, ?, ?, ?)");
  if (!st) return st.error();
  st->Bind(1, topic).Bind(2, key).Bind(3, payload).Bind(4, now_ms);
  return st->Run();
}

}  // namespace shopd::storage::sqlite
