// storage/sqlite: the transactional outbox, the producer side: part of the
// SQLite backend's write transactions. Depends on core and the connection.
//
// A store that changes state and must publish an event about it writes an
// outbox row on its own connection, inside its own transaction: the event then
// exists exactly when the change commits, never for a rolled-back one. The
// outbox relay (events/sqlite/sqlite_outbox_relay.h) later moves committed
// rows, in commit order, into the event log.
//
//   auto tx = Transaction::BeginImmediate(conn);
//   ... UPDATE orders ...
//   if (auto r = AppendToOutbox(conn, "order.confirmed", order_id, payload, now_ms); !r) return r.error();
//   return tx->Commit();
#pragma once

#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "storage/sqlite/sqlite_connection.h"

namespace shopd::storage::sqlite {

// Adds one row to the `outbox` table on `conn`, which must be inside an open
// transaction (kInternal otherwise: an outbox row written on its own would
// defeat the pattern). kInvalidArgument for a topic that is empty or longer
// than 255 bytes.
core::Result<void> AppendToOutbox(Connection& conn, std::string_view topic, std::string_view key,
                                  std::string_view payload, int64_t now_ms);

}  // namespace shopd::storage::sqlite
