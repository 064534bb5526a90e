#include "auth/password_hasher.h"

#include <argon2.h>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <tuple>

#include "core/random.h"

namespace shopd::auth {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;

// Upper bounds on the cost parameters Verify accepts from a stored hash, so a
// corrupted or planted row cannot turn one login into minutes of CPU or GiBs of
// memory. Generous enough to raise the defaults several times over.
constexpr Argon2Params kMaxVerifyParams{.memory_kib = 1024 * 1024, .iterations = 64,
                                        .parallelism = 64};

// Reads `<key>=<digits><sep>` at the front of `s` and advances past it.
std::optional<uint32_t> TakeParam(std::string_view& s, std::string_view key, char sep) {
  if (!s.starts_with(key) || s.size() <= key.size() || s[key.size()] != '=') return std::nullopt;
  s.remove_prefix(key.size() + 1);
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end == s.data() || end == s.data() + s.size() || *end != sep) {
    return std::nullopt;
  }
  s.remove_prefix(static_cast<size_t>(end - s.data()) + 1);
  return v;
}

// The cost parameters of a "$argon2id$v=19$m=..,t=..,p=..$salt$hash" string.
std::optional<Argon2Params> ParseParams(std::string_view phc) {
  constexpr std::string_view kPrefix = "$argon2id$v=19$";
  if (!phc.starts_with(kPrefix)) return std::nullopt;
  phc.remove_prefix(kPrefix.size());
  auto m = TakeParam(phc, "m", ',');
  if (!m) return std::nullopt;
  auto t = TakeParam(phc, "t", ',');
  if (!t) return std::nullopt;
  auto p = TakeParam(phc, "p", '$');
  if (!p) return std::nullopt;
  return Argon2Params{*m, *t, *p};
}

}  // namespace

bool MeetsOwaspFloor(const Argon2Params& params) {
  return std::any_of(std::begin(kOwaspArgon2Floor), std::end(kOwaspArgon2Floor), [&](const Argon2FloorRow& row) {
    return params.memory_kib >= row.memory_kib && params.iterations >= row.iterations;
  });
}

std::string DescribeOwaspFloor() {
  std::string out;
  for (const auto& row : kOwaspArgon2Floor) {
    if (!out.empty()) out += ", ";
    out += "m>=" + std::to_string(row.memory_kib) + " KiB with t>=" + std::to_string(row.iterations);
  }
  return out;
}

std::string PasswordHasher::Hash(std::string_view password) const {
  unsigned char salt[kSaltBytes];
  core::SecureRandomBytes(salt, sizeof salt);
  std::string encoded(argon2_encodedlen(params_.iterations, params_.memory_kib,
                                        params_.parallelism, kSaltBytes, kHashBytes, Argon2_id),
                      '\0');
  int rc = argon2id_hash_encoded(params_.iterations, params_.memory_kib, params_.parallelism,
                                 password.data(), password.size(), salt, sizeof salt, kHashBytes,
                                 encoded.data(), encoded.size());
  if (rc != ARGON2_OK) {
    throw std::runtime_error(std::string("argon2id_hash_encoded: ") + argon2_error_message(rc));
  }
  encoded.resize(encoded.find('\0'));
  return encoded;
}

bool PasswordHasher::Verify(std::string_view phc_hash, std::string_view password) const {
  // argon2 reads a C string: an embedded NUL would silently truncate the hash.
  if (phc_hash.find('\0') != std::string_view::npos) return false;
  auto p = ParseParams(phc_hash);
  if (!p) return false;
  // Our own configured cost is always acceptable, even above the caps.
  if (p->memory_kib > std::max(kMaxVerifyParams.memory_kib, params_.memory_kib) ||
      p->iterations > std::max(kMaxVerifyParams.iterations, params_.iterations) ||
      p->parallelism > std::max(kMaxVerifyParams.parallelism, params_.parallelism)) {
    return false;
  }
  std::string encoded(phc_hash);
  // argon2id_verify compares the hashes in constant time.
  return argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

const std::string& PasswordHasher::DummyHash() const {
  // One per parameter set, so the dummy costs exactly what a real hash costs.
  // std::map nodes are stable, so the returned references stay valid.
  static std::mutex mu;
  static std::map<std::tuple<uint32_t, uint32_t, uint32_t>, std::string> by_params;
  std::lock_guard lock(mu);
  auto key = std::make_tuple(params_.memory_kib, params_.iterations, params_.parallelism);
  auto it = by_params.find(key);
  if (it == by_params.end()) {
    unsigned char password[32];
    core::SecureRandomBytes(password, sizeof password);
    it = by_params
             .emplace(key, Hash(std::string_view(reinterpret_cast<const char*>(password),
                                                 sizeof password)))
             .first;
  }
  return it->second;
}

}  // namespace shopd::auth
