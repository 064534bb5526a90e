// storage/sqlite: the catalog on SQLite. Blocking work runs on the pool.
// An update writes its `product.changed` outbox row in its own transaction and
// tells `changes` after the commit (storage/product_changes.h).
#pragma once

#include "exec/worker_pool.h"
#include "storage/catalog_store.h"
#include "storage/product_changes.h"
#include "storage/sqlite/sqlite_database.h"

namespace shopd::storage::sqlite {

class SqliteCatalogStore final : public CatalogStore {
 public:
  // `changes` (may be null) must outlive the store.
  SqliteCatalogStore(SqliteDatabase& db, exec::WorkerPool& pool, ProductChangeListener* changes = nullptr)
      : db_(db), pool_(pool), changes_(changes) {}

  // CatalogStore
  Async<Product> CreateProduct(Product product) override;
  Async<Product> UpdateProduct(Product product) override;
  Async<Product> GetProduct(std::string id) override;
  Async<ProductPage> ListProducts(std::string after_id, int limit) override;

 private:
  // Awaits `update`; once it committed, tells `changes_`.
  Async<Product> Announce(Async<Product> update);

  SqliteDatabase& db_;
  exec::WorkerPool& pool_;
  ProductChangeListener* changes_;
};

}  // namespace shopd::storage::sqlite
