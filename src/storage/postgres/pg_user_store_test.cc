#include "storage/postgres/pg_user_store.h"

#include <gtest/gtest.h>

#include <memory>

#include "storage/postgres/pg_test_util.h"
#include "storage/user_store_contract_test.h"

namespace shopd::storage::postgres {
namespace {

class PostgresHarness final : public contract::UserStoreHarness {
 public:
  UserStore& store() override { return store_; }

 private:
  test_util::FreshDatabase db_;
  PgUserStore store_{db_.pool()};
};

using contract::UserStoreContract;
INSTANTIATE_TEST_SUITE_P(Postgres, UserStoreContract,
                         ::testing::Values(contract::UserStoreBackend{
                             "Postgres", [] { return std::make_unique<PostgresHarness>(); }}),
                         contract::UserStoreBackendName);

}  // namespace
}  // namespace shopd::storage::postgres
