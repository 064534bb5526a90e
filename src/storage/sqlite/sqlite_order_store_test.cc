#include "storage/sqlite/sqlite_order_store.h"

#include <filesystem>

#include "storage/order_store_contract_test.h"
#include "storage/sqlite/sqlite_catalog_store.h"

namespace shopd::storage::sqlite {
namespace {

class SqliteHarness final : public OrderStoreHarness {
 public:
  SqliteHarness() : pool_(2, 1024) {
    char tmpl[] = "/tmp/shopd-orders-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    db_ = std::move(*SqliteDatabase::Open({.data_dir = dir_}));
    catalog_ = std::make_unique<SqliteCatalogStore>(*db_, pool_);
    writer_ = std::make_unique<SqliteWriter>(*db_);
    orders_ = std::make_unique<SqliteOrderStore>(*db_, pool_, *writer_);
  }
  ~SqliteHarness() override {
    writer_->Shutdown();
    pool_.Shutdown();
    orders_.reset();
    writer_.reset();
    catalog_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  CatalogStore& catalog() override { return *catalog_; }
  OrderStore& orders() override { return *orders_; }
  SqliteDatabase& db() { return *db_; }

 private:
  std::string dir_;
  exec::WorkerPool pool_;
  std::unique_ptr<SqliteDatabase> db_;
  std::unique_ptr<SqliteWriter> writer_;
  std::unique_ptr<SqliteCatalogStore> catalog_;
  std::unique_ptr<SqliteOrderStore> orders_;
};

INSTANTIATE_TEST_SUITE_P(Backends, OrderStoreContract,
                         ::testing::Values(OrderStoreBackend{"Sqlite", [] {
                           return std::unique_ptr<OrderStoreHarness>(new SqliteHarness());
                         }}),
                         [](const auto& info) { return info.param.name; });

TEST(SqliteOrderStore, IllegalTransitionsAreRefusedByTheDatabase) {
  SqliteHarness h;
  Product p{"p1", "Widget", "", 100, "USD", 5, 1, 1};
  ASSERT_TRUE(order_contract::Await(h.catalog().CreateProduct(p)));
  auto o = order_contract::Await(h.orders().CreateOrder(NewOrder{"o1", "u1", "k", "h", {{"p1", 1, 0}}, 1}));
  ASSERT_TRUE(o);
  ASSERT_TRUE(order_contract::Await(h.orders().CancelOrder("u1", "o1", 2)));
  // Bypass the store's own checks: the database still refuses illegal moves.
  auto set = [&](const char* sql) {
    return h.db().WithConnection([&](Connection& c) { return c.Exec(sql); });
  };
  EXPECT_FALSE(set("UPDATE orders SET status = 'confirmed' WHERE id = 'o1'"));
  EXPECT_FALSE(set("UPDATE orders SET status = 'pending' WHERE id = 'o1'"));
  EXPECT_FALSE(set("UPDATE orders SET status = 'shipped' WHERE id = 'o1'"));
  EXPECT_TRUE(set("UPDATE orders SET status = 'cancelled' WHERE id = 'o1'"));  // unchanged is fine
  EXPECT_FALSE(set("UPDATE products SET stock = -1 WHERE id = 'p1'"));
}

}  // namespace
}  // namespace shopd::storage::sqlite
