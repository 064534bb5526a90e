#include "storage/sqlite/sqlite_order_store.h"

#include <filesystem>

#include "storage/order_store_contract_test.h"
#include "storage/product_changes.h"
#include "storage/sqlite/sqlite_catalog_store.h"
#include "storage/sqlite/sqlite_migrations.h"
#include "storage/sqlite/sqlite_test_util.h"

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

  std::vector<OutboxRow> TakeOutbox() override {
    std::vector<OutboxRow> rows;
    auto read = db_->WithConnection([&](Connection& c) -> core::Result<void> {
      auto st = c.Prepare("SELECT topic, key, payload FROM outbox ORDER BY id");
      if (!st) return st.error();
      for (;;) {
        auto row = st->Step();
        if (!row) return row.error();
        if (!*row) break;
        rows.push_back({st->ColumnText(0), st->ColumnText(1), st->ColumnText(2)});
      }
      st->Reset();
      return c.Exec("DELETE FROM outbox");
    });
    EXPECT_TRUE(read) << read.error().internal;
    return rows;
  }
  core::Result<void> ExecRaw(std::string sql) override {
    return db_->WithConnection([&](Connection& c) { return c.Exec(sql); });
  }
  void BreakOutbox() override {
    auto r = db_->WithConnection([](Connection& c) {
      return c.Exec("CREATE TRIGGER outbox_broken BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'outbox down'); END");
    });
    ASSERT_TRUE(r) << r.error().internal;
  }

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

// The database's triggers and storage/order_status.h's table are one machine:
// every (from, to) pair is allowed by both or by neither. The CHECKs that tie
// status to payment and reservation are switched off for this, so only the
// triggers decide; cancelling -> cancelled is tried with the refund done, the
// one extra condition the trigger adds.
TEST(SqliteOrderStore, TheTriggersAllowExactlyTheMovesOfTheTransitionTable) {
  test_util::TempDir dir("shopd-order-machine");
  auto db = test_util::OpenOrDie(dir.path());
  constexpr OrderStatus kStatuses[] = {OrderStatus::kPending, OrderStatus::kConfirmed, OrderStatus::kRejected,
                                       OrderStatus::kCancelling, OrderStatus::kCancelled};
  constexpr PaymentStatus kPayments[] = {PaymentStatus::kNone, PaymentStatus::kApproved, PaymentStatus::kDeclined,
                                         PaymentStatus::kRefundPending, PaymentStatus::kRefunded};
  int n = 0;
  // Inserts a row in `status` / `payment` and tries `update` on it; true when the triggers let it through.
  auto try_move = [&](std::string_view status, std::string_view payment, const std::string& update) {
    const std::string id = "o" + std::to_string(++n);
    auto r = db->WithConnection([&](Connection& c) -> core::Result<void> {
      if (auto off = c.Exec("PRAGMA ignore_check_constraints = ON"); !off) return off;
      auto ins = c.Prepare(
          "INSERT INTO orders (id, user_id, status, total_cents, currency, payment, idempotency_key, request_hash, "
          "created_at, updated_at) VALUES (?1, 'u1', ?2, 100, 'USD', ?3, ?1, 'h', 1, 1)");
      if (!ins) return ins.error();
      ins->Bind(1, id).Bind(2, status).Bind(3, payment);
      if (auto done = ins->Run(); !done) return done;
      auto moved = c.Exec(update + " WHERE id = '" + id + "'");
      if (auto on = c.Exec("PRAGMA ignore_check_constraints = OFF"); !on) return on;
      return moved;
    });
    return r.has_value();
  };
  for (OrderStatus from : kStatuses) {
    for (OrderStatus to : kStatuses) {
      if (from == to) continue;
      const bool allowed = try_move(ToString(from), "refunded",
                                    "UPDATE orders SET status = '" + std::string(ToString(to)) + "'");
      EXPECT_EQ(allowed, CanMove(from, to)) << from << " -> " << to;
    }
  }
  for (PaymentStatus from : kPayments) {
    for (PaymentStatus to : kPayments) {
      if (from == to) continue;
      const bool allowed = try_move("pending", ToString(from),
                                    "UPDATE orders SET payment = '" + std::string(ToString(to)) + "'");
      EXPECT_EQ(allowed, CanMove(from, to)) << from << " -> " << to;
    }
  }
}

// Records every notice, as the catalog's cache would act on it.
class RecordingListener final : public ProductChangeListener {
 public:
  boost::asio::awaitable<void> ProductsChanged(std::vector<std::string> ids) override {
    notices.push_back(std::move(ids));
    co_return;
  }
  std::vector<std::vector<std::string>> notices;
};

int64_t CountOutbox(SqliteDatabase& db, const std::string& topic) {
  return db
      .WithConnection([&](Connection& c) -> core::Result<int64_t> {
        auto st = c.PrepareUncached("SELECT count(*) FROM outbox WHERE topic = ?");
        if (!st) return st.error();
        st->Bind(1, topic);
        auto row = st->Step();
        if (!row) return row.error();
        return st->ColumnInt64(0);
      })
      .value();
}

TEST(SqliteOrderStore, EveryStockChangeIsAnnouncedAfterItsCommitAndWrittenToTheOutbox) {
  test_util::TempDir dir("shopd-product-changes");
  auto db = test_util::OpenOrDie(dir.path());
  exec::WorkerPool pool(2, 64);
  SqliteWriter writer(*db);
  RecordingListener heard;
  SqliteCatalogStore catalog(*db, pool, &heard);
  SqliteOrderStore orders(*db, pool, writer, &heard);
  using order_contract::Await;
  using Ids = std::vector<std::string>;
  const std::string changed(kProductChangedTopic);
  ASSERT_TRUE(Await(catalog.CreateProduct(Product{"p1", "Mug", "", 100, "USD", 5, 1, 1})));
  ASSERT_TRUE(Await(catalog.CreateProduct(Product{"p2", "Cup", "", 100, "USD", 1, 1, 1})));
  EXPECT_TRUE(heard.notices.empty()) << "a new product was cached by nobody";

  // The saga's reservation, and its release on a cancellation.
  ASSERT_TRUE(Await(orders.CreateOrder(NewOrder{"o1", "u1", "k1", "h", {{"p1", 2, 0}, {"p2", 1, 0}}, 1})));
  EXPECT_TRUE(heard.notices.empty()) << "placing an order changes no stock";
  ASSERT_EQ(Await(orders.ReserveStock("o1", 2))->outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(heard.notices, (std::vector<Ids>{{"p1", "p2"}}));
  EXPECT_EQ(CountOutbox(*db, changed), 2);
  ASSERT_EQ(Await(orders.CancelOrder("u1", "o1", 3))->status, storage::OrderStatus::kCancelled);
  EXPECT_EQ(heard.notices.back(), (Ids{"p1", "p2"}));
  EXPECT_EQ(CountOutbox(*db, changed), 4);

  // Out of stock: nothing changed, nothing announced.
  heard.notices.clear();
  ASSERT_TRUE(Await(orders.CreateOrder(NewOrder{"o2", "u1", "k2", "h", {{"p1", 1, 0}, {"p2", 2, 0}}, 4})));
  ASSERT_EQ(Await(orders.ReserveStock("o2", 5))->outcome, ReserveOutcome::kOutOfStock);
  EXPECT_TRUE(heard.notices.empty());

  // A declined payment gives the stock back.
  ASSERT_TRUE(Await(orders.CreateOrder(NewOrder{"o3", "u1", "k3", "h", {{"p1", 1, 0}}, 6})));
  ASSERT_TRUE(Await(orders.ReserveStock("o3", 7)));
  ASSERT_EQ(Await(orders.SettlePayment("o3", false, 8))->status, storage::OrderStatus::kRejected);
  EXPECT_EQ(heard.notices, (std::vector<Ids>{{"p1"}, {"p1"}}));

  // A confirmed order's cancellation gives the stock back at once; the
  // refund request is in the outbox with it.
  heard.notices.clear();
  ASSERT_TRUE(Await(orders.CreateOrder(NewOrder{"o4", "u1", "k4", "h", {{"p2", 1, 0}}, 9})));
  ASSERT_TRUE(Await(orders.ReserveStock("o4", 10)));
  ASSERT_EQ(Await(orders.SettlePayment("o4", true, 11))->status, storage::OrderStatus::kConfirmed);
  ASSERT_EQ(Await(orders.CancelOrder("u1", "o4", 12))->status, storage::OrderStatus::kCancelling);
  EXPECT_EQ(heard.notices, (std::vector<Ids>{{"p2"}, {"p2"}}));
  EXPECT_EQ(CountOutbox(*db, std::string(kRefundRequestedTopic)), 1);
  ASSERT_EQ(Await(orders.CompleteRefund("o4", 13))->status, storage::OrderStatus::kCancelled);
  EXPECT_EQ(heard.notices.size(), 2u) << "the refund changes no stock";

  // An admin update.
  heard.notices.clear();
  ASSERT_TRUE(Await(catalog.UpdateProduct(Product{"p1", "Mug", "", 100, "USD", 50, 1, 20})));
  EXPECT_EQ(heard.notices, (std::vector<Ids>{{"p1"}}));
  EXPECT_EQ(Await(catalog.GetProduct("p1"))->stock, 50);
  EXPECT_FALSE(Await(catalog.UpdateProduct(Product{"nope", "X", "", 100, "USD", 1, 1, 20})));
  EXPECT_EQ(heard.notices.size(), 1u) << "a failed write announces nothing";
  writer.Shutdown();
  pool.Shutdown();
}

// A database migrated to version 4 (before refunds) keeps every order, item
// and pending count through the rebuild of the orders table (version 6).
TEST(SqliteOrderStore, MigrationSixKeepsTheOrdersAndAllowsRefunds) {
  test_util::TempDir dir("shopd-orders-migration-6");
  {
    auto conn = Connection::Open({.path = dir.path() + "/shopd.db"});
    ASSERT_TRUE(conn);
    size_t upto_v4 = 0;
    while (upto_v4 < Migrations().size() && Migrations()[upto_v4].version <= 4) ++upto_v4;
    ASSERT_TRUE(ApplyMigrations(**conn, Migrations().first(upto_v4)));
    ASSERT_TRUE((*conn)->Exec(R"sql(
      INSERT INTO products VALUES ('p1', 'Mug', '', 100, 'USD', 7, 1, 1);
      INSERT INTO orders (id, user_id, status, total_cents, currency, stock_reserved, payment, idempotency_key,
                          request_hash, created_at, updated_at)
        VALUES ('o1', 'u1', 'pending', 100, 'USD', 0, '', 'k1', 'h', 1, 1),
               ('o2', 'u1', 'confirmed', 100, 'USD', 1, 'approved', 'k2', 'h', 1, 1);
      INSERT INTO order_items VALUES ('o1', 'p1', 1, 100), ('o2', 'p1', 2, 100);
    )sql"));
  }
  auto db = test_util::OpenOrDie(dir.path());
  auto count = [&](const char* sql) {
    return db->WithConnection([&](Connection& c) -> core::Result<int64_t> {
      auto st = c.PrepareUncached(sql);
      if (!st) return st.error();
      auto row = st->Step();
      if (!row) return row.error();
      return st->ColumnInt64(0);
    });
  };
  EXPECT_EQ(count("SELECT count(*) FROM orders").value(), 2);
  EXPECT_EQ(count("SELECT count(*) FROM order_items").value(), 2);
  EXPECT_EQ(count("SELECT pending FROM pending_orders WHERE user_id = 'u1'").value(), 1) << "not counted twice";
  EXPECT_GE(count("SELECT max(version) FROM schema_migrations").value(), 6);

  exec::WorkerPool pool(1, 64);
  SqliteWriter writer(*db);
  SqliteOrderStore orders(*db, pool, writer);
  using order_contract::Await;
  auto cancelling = Await(orders.CancelOrder("u1", "o2", 2));
  ASSERT_TRUE(cancelling) << cancelling.error().internal;
  EXPECT_EQ(cancelling->status, storage::OrderStatus::kCancelling);
  EXPECT_EQ(Await(orders.CompleteRefund("o2", 3))->status, storage::OrderStatus::kCancelled);
  auto next = Await(orders.CreateOrder(NewOrder{"o3", "u1", "k3", "h", {{"p1", 1, 0}}, 4}));
  ASSERT_TRUE(next) << next.error().internal;
  EXPECT_GT(count("SELECT seq FROM orders WHERE id = 'o3'").value(),
            count("SELECT seq FROM orders WHERE id = 'o2'").value());
  EXPECT_EQ(count("SELECT pending FROM pending_orders WHERE user_id = 'u1'").value(), 2);
  writer.Shutdown();
  pool.Shutdown();
}

// A database last migrated by an older build (schema version 3) keeps its
// orders, and version 5 starts its pending counts from them.
TEST(SqliteOrderStore, MigrationFiveCountsTheOrdersAlreadyPending) {
  test_util::TempDir dir("shopd-orders-migration");
  {
    auto conn = Connection::Open({.path = dir.path() + "/shopd.db"});
    ASSERT_TRUE(conn);
    size_t before_v4 = 0;
    while (before_v4 < Migrations().size() && Migrations()[before_v4].version <= 3) ++before_v4;
    ASSERT_TRUE(ApplyMigrations(**conn, Migrations().first(before_v4)));
    ASSERT_TRUE((*conn)->Exec(R"sql(
      INSERT INTO products VALUES ('p1', 'Mug', '', 100, 'USD', 7, 1, 1);
      INSERT INTO orders (id, user_id, status, total_cents, currency, stock_reserved, payment, idempotency_key,
                          request_hash, created_at, updated_at)
        VALUES ('o1', 'u1', 'pending', 100, 'USD', 0, '', 'k1', 'h', 1, 1),
               ('o2', 'u1', 'pending', 100, 'USD', 1, '', 'k2', 'h', 1, 1),
               ('o3', 'u1', 'confirmed', 100, 'USD', 1, 'approved', 'k3', 'h', 1, 1),
               ('o4', 'u2', 'pending', 100, 'USD', 0, '', 'k4', 'h', 1, 1);
      INSERT INTO order_items VALUES ('o1', 'p1', 1, 100), ('o2', 'p1', 1, 100), ('o3', 'p1', 1, 100),
                                     ('o4', 'p1', 1, 100);
    )sql"));
  }
  auto db = test_util::OpenOrDie(dir.path());
  auto count = [&](const char* sql) {
    return db->WithConnection([&](Connection& c) -> core::Result<int64_t> {
      auto st = c.PrepareUncached(sql);
      if (!st) return st.error();
      auto row = st->Step();
      if (!row) return row.error();
      return st->ColumnInt64(0);
    });
  };
  EXPECT_EQ(count("SELECT pending FROM pending_orders WHERE user_id = 'u1'").value(), 2);
  EXPECT_EQ(count("SELECT pending FROM pending_orders WHERE user_id = 'u2'").value(), 1);
  EXPECT_EQ(count("SELECT count(*) FROM order_items").value(), 4);

  exec::WorkerPool pool(1, 64);
  SqliteWriter writer(*db);
  SqliteOrderStore orders(*db, pool, writer);
  NewOrder next{"o5", "u1", "k5", "h", {{"p1", 1, 0}}, 2, /*max_pending=*/3};
  EXPECT_TRUE(order_contract::Await(orders.CreateOrder(next)));
  next = NewOrder{"o6", "u1", "k6", "h", {{"p1", 1, 0}}, 2, /*max_pending=*/3};
  EXPECT_EQ(order_contract::Await(orders.CreateOrder(next)).error().type, "too-many-pending-orders");
  writer.Shutdown();
  pool.Shutdown();
}

}  // namespace
}  // namespace shopd::storage::sqlite
