#include "storage/sqlite/product_change_outbox.h"

#include <algorithm>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "storage/sqlite/sqlite_outbox.h"
#include "storage/product_changes.h"

namespace shopd::storage::sqlite {

core::Result<void> ProductChangeOutbox::Record(Connection& conn, const std::string& product_id, int64_t now_ms) {
  if (std::find(ids_.begin(), ids_.end(), product_id) != ids_.end()) return {};
  const std::string payload = boost::json::serialize(boost::json::object{{"product_id", product_id}});
  if (auto r = AppendToOutbox(conn, kProductChangedTopic, product_id, payload, now_ms); !r) return r;
  ids_.push_back(product_id);
  return {};
}

}  // namespace shopd::storage::sqlite
