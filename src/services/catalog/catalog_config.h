// services/catalog: settings of the catalog and its read cache.
#pragma once

#include <cstdint>

#include "config/config_source.h"
#include "core/error.h"

namespace shopd::services {

struct CatalogConfig {
  int64_t cache_ttl_ms = 5'000;
  int64_t cache_max_entries = 100'000;
  int64_t cache_max_bytes = 64 << 20;

  static void Declare(config::ConfigSource& src) {
    src.Declare({"catalog-cache-ttl-ms", "5000", "how long a cached product may be served"});
    src.Declare({"cache-max-entries", "100000", "in-process cache bound, entries"});
    src.Declare({"cache-max-bytes", "67108864", "in-process cache bound, bytes"});
  }
  static core::Result<CatalogConfig> Load(const config::ConfigSource& src) {
    CatalogConfig c;
    config::ConfigErrors errs;
    errs.Take(src.GetInt("catalog-cache-ttl-ms", 1, 3'600'000), c.cache_ttl_ms);
    errs.Take(src.GetInt("cache-max-entries", 1, 100'000'000), c.cache_max_entries);
    errs.Take(src.GetInt("cache-max-bytes", 1024, int64_t{1} << 40), c.cache_max_bytes);
    if (auto r = errs.Finish(); !r) return r.error();
    return c;
  }
};

}  // namespace shopd::services
