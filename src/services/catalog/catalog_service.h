// services/catalog: products — admin writes, public cached reads. Depends on
// core, storage, cache.
//
// Reads are cache-aside through the Cache interface: a product is cached as its
// public JSON document, so a hit is answered without touching the store or
// re-serialising. The service listens to product changes (storage/
// product_changes.h): every committed change of a product row — an admin
// update, a stock reservation or release by the saga or a cancellation —
// deletes the cached document before the writer's caller resumes, so a client
// that saw its order confirmed reads the new stock from this process. Other
// processes hear of the change through the event log (`product.changed`,
// carried by app/'s change tail) within its poll delay; the cache TTL bounds
// the staleness if that tail stalls.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>

#include "cache/cache.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/principal.h"
#include "storage/catalog_store.h"
#include "storage/product_changes.h"

namespace shopd::services {

struct ProductInput {
  std::string name;
  std::string description;
  int64_t price_cents = 0;
  std::string currency;
  int64_t stock = 0;
};

struct ProductListPage {
  std::string json;  // {"items":[...],"next_cursor":...}
};

class CatalogService final : public storage::ProductChangeListener {
 public:
  CatalogService(storage::CatalogStore& store, cache::Cache& cache, const core::Clock& clock,
                 std::chrono::milliseconds cache_ttl);

  boost::asio::awaitable<core::Result<std::string>> Create(const core::Principal& caller, ProductInput in);
  boost::asio::awaitable<core::Result<std::string>> Update(const core::Principal& caller, std::string id,
                                                           ProductInput in);
  // The product's JSON document (cached).
  boost::asio::awaitable<core::Result<std::string>> Get(std::string id);
  // `cursor` as given by the client ("" = first page); limit 1..100.
  boost::asio::awaitable<core::Result<std::string>> List(std::string cursor, int limit);

  // storage::ProductChangeListener: drops the cached documents.
  boost::asio::awaitable<void> ProductsChanged(std::vector<std::string> product_ids) override;

  static std::optional<core::Error> Validate(const ProductInput& in);
  static std::string ProductJson(const storage::Product& p);
  static std::string EncodeCursor(const std::string& after_id);
  static std::optional<std::string> DecodeCursor(std::string_view cursor);

 private:
  static std::string CacheKey(const std::string& id) { return "product:" + id; }

  storage::CatalogStore& store_;
  cache::Cache& cache_;
  const core::Clock& clock_;
  std::chrono::milliseconds cache_ttl_;
};

}  // namespace shopd::services
