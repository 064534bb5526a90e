// config: where settings come from. Depends on core only; knows no module.
//
// Each module declares its own keys (with default and help text) and reads them
// back, typed and validated, in its `XxxConfig::Load`. A key `header-timeout-ms`
// is the flag `--header-timeout-ms` and the environment variable
// `SHOPD_HEADER_TIMEOUT_MS`; a flag wins over the environment, which wins over
// the default.
//
//   ConfigSource src;
//   src.Declare({"listen", "127.0.0.1:8080", "HOST:PORT to listen on"});
//   src.SetFlag("listen", "0.0.0.0:80");
//   auto port = src.GetInt("port", 1, 65535);   // Result<int64_t>
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace shopd::config {

struct OptionSpec {
  std::string key;            // kebab-case, also the flag name
  std::string default_value;  // textual default ("" = unset)
  std::string help;
  bool secret = false;        // environment only: never a flag, never printed
};

class ConfigSource {
 public:
  using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

  // Reads the real process environment.
  ConfigSource();
  // For tests: a fake environment.
  explicit ConfigSource(EnvLookup env);

  void Declare(OptionSpec spec);
  const std::vector<OptionSpec>& Specs() const { return specs_; }
  bool IsDeclared(std::string_view key) const;

  void SetFlag(const std::string& key, std::string value);

  static std::string EnvName(std::string_view key);

  // Flag, else environment, else declared default; nullopt when all are empty.
  std::optional<std::string> Raw(const std::string& key) const;

  core::Result<std::string> GetString(const std::string& key) const;
  core::Result<int64_t> GetInt(const std::string& key, int64_t min, int64_t max) const;
  core::Result<bool> GetBool(const std::string& key) const;
  // A comma-separated list; empty items are dropped.
  core::Result<std::vector<std::string>> GetList(const std::string& key) const;

 private:
  const OptionSpec* Find(std::string_view key) const;

  EnvLookup env_;
  std::vector<OptionSpec> specs_;
  std::map<std::string, std::string, std::less<>> flags_;
};

// Collects the first error of many Result<T> reads so Load() can report all
// bad settings at once.
class ConfigErrors {
 public:
  template <class T>
  void Take(core::Result<T> r, T& out) {
    if (r) out = std::move(*r);
    else errors_.push_back(r.error().message);
  }
  void Add(std::string message) { errors_.push_back(std::move(message)); }
  core::Result<void> Finish() const;

 private:
  std::vector<std::string> errors_;
};

}  // namespace shopd::config
