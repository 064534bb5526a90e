#include "services/catalog/catalog_service.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "cache/memory/memory_cache.h"
#include "core/testing/async_test_util.h"
#include "exec/worker_pool.h"
#include "storage/product_changes.h"
#include "storage/sqlite/sqlite_catalog_store.h"
#include "storage/sqlite/sqlite_order_store.h"
#include "storage/sqlite/sqlite_test_util.h"
#include "storage/sqlite/sqlite_writer.h"

namespace shopd::services {
namespace {

using namespace std::chrono_literals;

// The catalog wired as the server wires it: the stores announce product
// changes to a notifier the service listens to; the cache TTL is an hour, so
// only an invalidation can make a read see a change.
class CatalogServiceTest : public ::testing::Test {
 protected:
  CatalogServiceTest() {
    changes_.Subscribe(service_);
    EXPECT_TRUE(Await(catalog_.CreateProduct(storage::Product{"p1", "Mug", "", 1299, "USD", 10, 1, 1})));
  }
  ~CatalogServiceTest() override {
    writer_.Shutdown();
    pool_.Shutdown();
  }

  template <class T>
  T Await(boost::asio::awaitable<T> aw) {
    return shopd::testing::AwaitOn(io_, std::move(aw));
  }
  int64_t ShownStock() {
    auto doc = Await(service_.Get("p1"));
    if (!doc) throw std::runtime_error(doc.error().internal);
    return boost::json::parse(*doc).at("stock").as_int64();
  }

  boost::asio::io_context io_;
  core::ManualClock clock_;
  storage::sqlite::test_util::TempDir dir_{"shopd-catalog-service-test"};
  std::unique_ptr<storage::sqlite::SqliteDatabase> db_ = storage::sqlite::test_util::OpenOrDie(dir_.path());
  exec::WorkerPool pool_{2, 256, "catalog-test"};
  storage::sqlite::SqliteWriter writer_{*db_};
  storage::ProductChangeNotifier changes_;
  cache::MemoryCache cache_{clock_};
  storage::sqlite::SqliteCatalogStore catalog_{*db_, pool_, &changes_};
  storage::sqlite::SqliteOrderStore orders_{*db_, pool_, writer_, &changes_};
  CatalogService service_{catalog_, cache_, clock_, 1h};
};

TEST_F(CatalogServiceTest, ShownStockFollowsTheSagaAndCancellationsAsSoonAsTheyCommit) {
  EXPECT_EQ(ShownStock(), 10);  // cached from here on
  ASSERT_TRUE(Await(orders_.CreateOrder(storage::NewOrder{"o1", "u1", "k1", "h", {{"p1", 4, 0}}, 1})));
  EXPECT_EQ(ShownStock(), 10);
  ASSERT_TRUE(Await(orders_.ReserveStock("o1", 2)));
  EXPECT_EQ(ShownStock(), 6);
  ASSERT_EQ(Await(orders_.SettlePayment("o1", true, 3))->status, storage::OrderStatus::kConfirmed);
  EXPECT_EQ(ShownStock(), 6);
  ASSERT_EQ(Await(orders_.CancelOrder("u1", "o1", 4))->status, storage::OrderStatus::kCancelling);
  EXPECT_EQ(ShownStock(), 10);
}

TEST_F(CatalogServiceTest, AnAdminUpdateIsShownAtOnce) {
  EXPECT_EQ(ShownStock(), 10);
  auto updated = Await(service_.Update({"admin", "admin"}, "p1", ProductInput{"Mug", "", 1299, "USD", 25}));
  ASSERT_TRUE(updated) << updated.error().internal;
  EXPECT_EQ(ShownStock(), 25);
}

}  // namespace
}  // namespace shopd::services
