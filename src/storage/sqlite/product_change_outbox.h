// storage/sqlite: writes the `product.changed` outbox rows of one write
// transaction (storage/product_changes.h explains the notice), and keeps the
// ids for the after-commit notice. Used by the SQLite catalog and order
// stores, the only code that changes product rows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "storage/sqlite/sqlite_connection.h"

namespace shopd::storage::sqlite {

class ProductChangeOutbox {
 public:
  // Adds an outbox row for `product_id` on `conn` (inside its open
  // transaction) and remembers the id, once per id.
  core::Result<void> Record(Connection& conn, const std::string& product_id, int64_t now_ms);

  // The ids recorded so far, for the notice once the transaction committed.
  std::vector<std::string> Take() { return std::move(ids_); }

 private:
  std::vector<std::string> ids_;
};

}  // namespace shopd::storage::sqlite
