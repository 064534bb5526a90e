#include "storage/postgres/pg_order_store.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "storage/order_store_contract_test.h"
#include "storage/postgres/pg_catalog_store.h"
#include "storage/postgres/pg_test_util.h"

namespace shopd::storage::postgres {
namespace {

class PostgresHarness final : public OrderStoreHarness {
 public:
  CatalogStore& catalog() override { return catalog_; }
  OrderStore& orders() override { return orders_; }

  std::vector<OutboxRow> TakeOutbox() override {
    std::vector<OutboxRow> rows;
    auto r = Query("DELETE FROM outbox RETURNING id, topic, key, payload");
    EXPECT_TRUE(r) << r.error().internal;
    if (!r) return rows;
    std::vector<std::pair<int64_t, OutboxRow>> numbered;
    for (int i = 0; i < r->rows(); ++i)
      numbered.push_back({r->Int64(i, 0), OutboxRow{r->Text(i, 1), r->Text(i, 2), r->Text(i, 3)}});
    std::sort(numbered.begin(), numbered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [id, row] : numbered) rows.push_back(std::move(row));
    return rows;
  }
  void BreakOutbox() override {
    auto f = Query("CREATE FUNCTION outbox_broken() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN RAISE EXCEPTION 'outbox down'; END $$");
    ASSERT_TRUE(f) << f.error().internal;
    auto t = Query("CREATE TRIGGER outbox_broken BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION outbox_broken()");
    ASSERT_TRUE(t) << t.error().internal;
  }

  core::Result<void> ExecRaw(std::string sql) override {
    auto r = Query(std::move(sql));
    if (!r) return r.error();
    return {};
  }

  core::Result<PgResult> Query(std::string sql) {
    return order_contract::Await(db_.pool().Query(std::move(sql), {}));
  }

 private:
  test_util::FreshDatabase db_;
  PgCatalogStore catalog_{db_.pool()};
  PgOrderStore orders_{db_.pool()};
};

INSTANTIATE_TEST_SUITE_P(Postgres, OrderStoreContract,
                         ::testing::Values(OrderStoreBackend{"Postgres", [] {
                           return std::unique_ptr<OrderStoreHarness>(new PostgresHarness());
                         }}),
                         [](const auto& info) { return info.param.name; });

// Two stores (two replicas) over one database take the same new key at once:
// one order, and both answer it.
TEST(PgOrderStore, OneIdempotencyKeyOnTwoReplicasMakesOneOrder) {
  test_util::FreshDatabase db;
  PgCatalogStore catalog(db.pool());
  PgOrderStore a(db.pool()), b(db.pool());
  Product p{"p1", "Widget", "", 100, "USD", 50, 1, 1};
  ASSERT_TRUE(order_contract::Await(catalog.CreateProduct(p)));
  for (int round = 0; round < 20; ++round) {
    const std::string key = "k" + std::to_string(round);
    boost::asio::io_context io;
    auto fa = boost::asio::co_spawn(io, a.CreateOrder(NewOrder{"a" + key, "u1", key, "h", {{"p1", 1, 0}}, 1}),
                                    boost::asio::use_future);
    auto fb = boost::asio::co_spawn(io, b.CreateOrder(NewOrder{"b" + key, "u1", key, "h", {{"p1", 1, 0}}, 1}),
                                    boost::asio::use_future);
    io.run();
    auto ra = fa.get(), rb = fb.get();
    ASSERT_TRUE(ra) << ra.error().internal;
    ASSERT_TRUE(rb) << rb.error().internal;
    EXPECT_EQ(ra->order.id, rb->order.id);
    EXPECT_NE(ra->replayed, rb->replayed);
  }
  auto count = order_contract::Await(db.pool().Query("SELECT count(*) FROM orders", {}));
  ASSERT_TRUE(count);
  EXPECT_EQ(count->Int64(0, 0), 20);
}

// A replica that cannot be reached: listings come from the primary, and a
// request pays for at most one failed attempt before reads skip the replica.
TEST(PgOrderStore, ListingsGoToThePrimaryWhileTheReplicaIsDown) {
  test_util::FreshDatabase db;
  shopd::testing::IoThread io;
  PgPool down(io.io().get_executor(), PgPoolOptions{.conninfo = "host=127.0.0.1 port=1 connect_timeout=1",
                                                    .connect_timeout = std::chrono::milliseconds(500)});
  PgCatalogStore catalog(db.pool(), nullptr, &down);
  PgOrderStore orders(db.pool(), nullptr, &down);
  Product p{"p1", "Widget", "", 100, "USD", 5, 1, 1};
  ASSERT_TRUE(order_contract::Await(catalog.CreateProduct(p)));
  ASSERT_TRUE(order_contract::Await(orders.CreateOrder(NewOrder{"o1", "u1", "k", "h", {{"p1", 1, 0}}, 1})));
  for (int i = 0; i < 3; ++i) {
    auto products = order_contract::Await(catalog.ListProducts("", 10));
    ASSERT_TRUE(products) << products.error().internal;
    EXPECT_EQ(products->items.size(), 1u);
    auto listed = order_contract::Await(orders.ListOrders("u1", "", 10));
    ASSERT_TRUE(listed) << listed.error().internal;
    EXPECT_EQ(listed->items.size(), 1u);
  }
}

}  // namespace
}  // namespace shopd::storage::postgres
