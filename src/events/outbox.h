// events: the transactional outbox, the producer side. Depends on core and
// storage/sqlite's connection wrapper (header only).
//
// A store that changes state and must publish an event about it writes an
// outbox row on its own connection, inside its own transaction: the event then
// exists exactly when the change commits, never for a rolled-back one. The
// outbox relay (events/outbox_relay.h) later moves committed rows, in commit
// order, into the EventLog.
//
//   auto tx = Transaction::BeginImmediate(conn);
//   ... UPDATE orders ...
//   if (auto r = events::AppendToOutbox(conn, "order.confirmed", order_id, payload, now_ms); !r)
//     return r.error();
//   return tx->Commit();
//
// Inline on purpose: storage backends call it from inside their own library,
// and the relay's library depends on storage, so a compiled definition here
// would make the two libraries depend on each other.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "storage/sqlite/sqlite_connection.h"

namespace shopd::events {

// Adds one row to the `outbox` table (migration 2) on `conn`, which must be
// inside an open transaction (kInternal otherwise: an outbox row written on
// its own would defeat the pattern). kInvalidArgument for an empty topic.
inline core::Result<void> AppendToOutbox(storage::sqlite::Connection& conn, std::string_view topic,
                                         std::string_view key, std::string_view payload, int64_t now_ms) {
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

}  // namespace shopd::events
