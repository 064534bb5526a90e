#include "config/config_source.h"

#include <cctype>
#include <charconv>
#include <cstdlib>

namespace shopd::config {

using core::Error;
using core::Result;

ConfigSource::ConfigSource()
    : env_([](const std::string& name) -> std::optional<std::string> {
        if (const char* v = std::getenv(name.c_str())) return std::string(v);
        return std::nullopt;
      }) {}

ConfigSource::ConfigSource(EnvLookup env) : env_(std::move(env)) {}

void ConfigSource::Declare(OptionSpec spec) {
  if (IsDeclared(spec.key)) return;
  specs_.push_back(std::move(spec));
}

bool ConfigSource::IsDeclared(std::string_view key) const { return Find(key) != nullptr; }

const OptionSpec* ConfigSource::Find(std::string_view key) const {
  for (const auto& s : specs_)
    if (s.key == key) return &s;
  return nullptr;
}

void ConfigSource::SetFlag(const std::string& key, std::string value) {
  flags_[key] = std::move(value);
}

std::string ConfigSource::EnvName(std::string_view key) {
  std::string name = "SHOPD_";
  for (char c : key) name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

std::optional<std::string> ConfigSource::Raw(const std::string& key) const {
  if (auto it = flags_.find(key); it != flags_.end() && !it->second.empty()) return it->second;
  if (auto v = env_(EnvName(key)); v && !v->empty()) return v;
  if (const auto* spec = Find(key); spec && !spec->default_value.empty()) return spec->default_value;
  return std::nullopt;
}

Result<std::string> ConfigSource::GetString(const std::string& key) const {
  return Raw(key).value_or("");
}

Result<int64_t> ConfigSource::GetInt(const std::string& key, int64_t min, int64_t max) const {
  auto raw = Raw(key);
  if (!raw) return Error::Invalid(key + ": a value is required");
  int64_t v = 0;
  auto [end, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), v);
  if (ec != std::errc{} || end != raw->data() + raw->size())
    return Error::Invalid(key + ": '" + *raw + "' is not an integer");
  if (v < min || v > max)
    return Error::Invalid(key + ": " + *raw + " is out of range [" + std::to_string(min) + ", " +
                          std::to_string(max) + "]");
  return v;
}

Result<bool> ConfigSource::GetBool(const std::string& key) const {
  auto raw = Raw(key).value_or("false");
  if (raw == "1" || raw == "true" || raw == "yes" || raw == "on") return true;
  if (raw == "0" || raw == "false" || raw == "no" || raw == "off") return false;
  return Error::Invalid(key + ": '" + raw + "' is not a boolean (true/false)");
}

Result<std::vector<std::string>> ConfigSource::GetList(const std::string& key) const {
  std::vector<std::string> out;
  auto raw = Raw(key).value_or("");
  size_t start = 0;
  while (start <= raw.size()) {
    size_t comma = raw.find(',', start);
    if (comma == std::string::npos) comma = raw.size();
    std::string item = raw.substr(start, comma - start);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) item.pop_back();
    size_t lead = item.find_first_not_of(" \t");
    if (lead != std::string::npos) out.push_back(item.substr(lead));
    start = comma + 1;
  }
  return out;
}

Result<void> ConfigErrors::Finish() const {
  if (errors_.empty()) return {};
  std::string msg;
  for (const auto& e : errors_) msg += (msg.empty() ? "" : "; ") + e;
  return Error::Invalid(msg);
}

}  // namespace shopd::config
