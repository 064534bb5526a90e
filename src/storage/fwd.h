// storage: forward declarations, so headers that only pass stores around
// (app wiring, services) stay light. Depends on nothing.
#pragma once

namespace shopd::storage {
struct User;
struct RefreshToken;
class UserStore;

namespace sqlite {
struct SqliteOptions;
class SqliteDatabase;
class SqliteUserStore;
}  // namespace sqlite
}  // namespace shopd::storage
