// storage/sqlite: the catalog on SQLite. Blocking work runs on the pool.
#pragma once

#include "exec/worker_pool.h"
#include "storage/catalog_store.h"
#include "storage/sqlite/sqlite_database.h"

namespace shopd::storage::sqlite {

class SqliteCatalogStore final : public CatalogStore {
 public:
  SqliteCatalogStore(SqliteDatabase& db, exec::WorkerPool& pool) : db_(db), pool_(pool) {}

  // CatalogStore
  Async<Product> CreateProduct(Product product) override;
  Async<Product> UpdateProduct(Product product) override;
  Async<Product> GetProduct(std::string id) override;
  Async<ProductPage> ListProducts(std::string after_id, int limit) override;

 private:
  SqliteDatabase& db_;
  exec::WorkerPool& pool_;
};

}  // namespace shopd::storage::sqlite
