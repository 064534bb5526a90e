// storage/postgres: CatalogStore on PostgreSQL (the scale-out topology).
// Depends on storage and the pool.
//
// Same behaviour as storage/sqlite's store, checked by the same contract
// suite. An update writes its `product.changed` outbox row in its own
// transaction, so every replica's event tail hears of it, and tells `changes`
// after the commit (storage/product_changes.h).
#pragma once

#include "storage/catalog_store.h"
#include "storage/postgres/pg_pool.h"
#include "storage/postgres/pg_read_pools.h"
#include "storage/product_changes.h"

namespace shopd::storage::postgres {

class PgCatalogStore final : public CatalogStore {
 public:
  // `pool` (migrated) and `changes` (may be null) must outlive the store.
  // Listings go to `read_pool` when given (a streaming replica: may lag;
  // the primary while it fails, storage/postgres/pg_read_pools.h).
  // Single products are read from the primary: they refill the caches after
  // an invalidation, and a lagging replica would put the old row back.
  explicit PgCatalogStore(PgPool& pool, ProductChangeListener* changes = nullptr, PgPool* read_pool = nullptr)
      : pool_(pool), reads_(pool, read_pool), changes_(changes) {}

  // CatalogStore
  Async<Product> CreateProduct(Product product) override;
  Async<Product> UpdateProduct(Product product) override;
  Async<Product> GetProduct(std::string id) override;
  Async<ProductPage> ListProducts(std::string after_id, int limit) override;

 private:
  PgPool& pool_;
  PgReadPools reads_;
  ProductChangeListener* changes_;
};

}  // namespace shopd::storage::postgres
