#include "obs/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <variant>

#include "obs/json_escape.h"

namespace shopd::obs {
namespace {

bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

void ValidateMetricName(std::string_view name) {
  bool ok = !name.empty() && (IsNameStart(name[0]) || name[0] == ':');
  for (char c : name) ok = ok && (IsNameChar(c) || c == ':');
  if (!ok) throw std::invalid_argument("invalid metric name: " + std::string(name));
}

void ValidateLabelName(std::string_view name) {
  bool ok = !name.empty() && IsNameStart(name[0]) && !name.starts_with("__");
  for (char c : name) ok = ok && IsNameChar(c);
  if (!ok) throw std::invalid_argument("invalid label name: " + std::string(name));
}

// Prometheus number syntax: integers stay integers (no exponent), everything
// else is the shortest representation that parses back to the same double.
void AppendNumber(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::trunc(v) && std::fabs(v) < 1e15) {
    AppendJsonInt(out, static_cast<int64_t>(v));
  } else {
    AppendJsonDouble(out, v);
  }
}

// Escapes `\`, `"` (label values only) and newline, and replaces malformed
// UTF-8, which would make the whole exposition unparseable.
void AppendEscaped(std::string& out, std::string_view s, bool quote) {
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else if (static_cast<unsigned char>(c) < 0x80) {
      out += c;
    } else if (size_t n = Utf8SequenceLength(s, i); n > 0) {
      out.append(s.data() + i, n);
      i += n;
      continue;
    } else {
      out += "\xef\xbf\xbd";  // U+FFFD
    }
    ++i;
  }
}

std::vector<double> NormalizedBounds(std::vector<double> bounds) {
  if (!bounds.empty() && bounds.back() == INFINITY) bounds.pop_back();
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (std::isnan(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) {
      throw std::invalid_argument("histogram bounds must be strictly increasing numbers");
    }
  }
  return bounds;
}

}  // namespace

// --- Histogram ---------------------------------------------------------------

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(NormalizedBounds(std::move(upper_bounds))),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double value) noexcept {
  // NaN and values above the last bound fall into +Inf, as in client_golang.
  size_t i = bounds_.size();
  if (!bounds_.empty() && value <= bounds_.back()) {
    i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                            bounds_.begin());
  }
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.bucket_counts.resize(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    s.bucket_counts[i] = counts_[i].load(std::memory_order_relaxed);
    s.count += s.bucket_counts[i];
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> HttpLatencyBucketsSeconds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10};
}

// --- MetricsRegistry ---------------------------------------------------------

struct MetricsRegistry::Series {
  std::string label_text;  // `a="x",b="y"`, without braces
  std::variant<std::unique_ptr<Counter>, std::unique_ptr<Gauge>, std::unique_ptr<Histogram>,
               std::function<double()>>
      value;
};

struct MetricsRegistry::Family {
  std::string name;
  std::string help;
  Type type;
  std::vector<double> bounds;  // histograms only
  std::map<Labels, std::unique_ptr<Series>> series;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Series& MetricsRegistry::FindOrCreateLocked(Type type, std::string_view name,
                                                             std::string_view help, Labels labels,
                                                             const std::vector<double>* bounds,
                                                             bool must_be_new) {
  std::vector<double> norm_bounds;
  if (bounds) norm_bounds = NormalizedBounds(*bounds);
  std::sort(labels.begin(), labels.end());
  std::string label_text;
  for (size_t i = 0; i < labels.size(); ++i) {
    ValidateLabelName(labels[i].first);
    if (i > 0 && labels[i - 1].first == labels[i].first) {
      throw std::invalid_argument("duplicate label " + labels[i].first);
    }
    if (type == Type::kHistogram && labels[i].first == "le") {
      throw std::invalid_argument("histogram label `le` is reserved");
    }
    if (i > 0) label_text += ',';
    label_text += labels[i].first;
    label_text += "=\"";
    AppendEscaped(label_text, labels[i].second, /*quote=*/true);
    label_text += '"';
  }

  auto fit = families_.find(name);
  if (fit == families_.end()) {
    ValidateMetricName(name);
    if (help.empty()) throw std::invalid_argument("metric without help text: " + std::string(name));
    const bool total = name.ends_with("_total");
    if (type == Type::kCounter && !total) {
      throw std::invalid_argument("counter name must end in _total: " + std::string(name));
    }
    if (type != Type::kCounter && total) {
      throw std::invalid_argument("only counter names end in _total: " + std::string(name));
    }
    std::vector<std::string> samples{std::string(name)};
    if (type == Type::kHistogram) {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        samples.push_back(std::string(name) + suffix);
      }
    }
    for (const auto& s : samples) {
      if (auto it = sample_names_.find(s); it != sample_names_.end()) {
        throw std::logic_error("metric " + std::string(name) + " collides with " + it->second);
      }
    }
    for (const auto& s : samples) sample_names_.emplace(s, std::string(name));
    auto family = std::make_unique<Family>();
    family->name = std::string(name);
    family->help = std::string(help);
    family->type = type;
    family->bounds = norm_bounds;
    fit = families_.emplace(family->name, std::move(family)).first;
  }
  Family& family = *fit->second;
  if (family.type != type) {
    throw std::logic_error("metric " + std::string(name) + " already registered with another type");
  }
  if (norm_bounds != family.bounds) {
    throw std::logic_error("histogram " + std::string(name) + " already registered with other bounds");
  }

  if (auto sit = family.series.find(labels); sit != family.series.end()) {
    if (must_be_new) {
      throw std::logic_error("series of " + std::string(name) + " already registered");
    }
    return *sit->second;
  }
  auto series = std::make_unique<Series>();
  series->label_text = std::move(label_text);
  return *family.series.emplace(std::move(labels), std::move(series)).first->second;
}

Counter& MetricsRegistry::GetCounter(std::string_view name, std::string_view help, Labels labels) {
  std::lock_guard lock(mu_);
  Series& s = FindOrCreateLocked(Type::kCounter, name, help, std::move(labels), nullptr, false);
  auto* p = std::get_if<std::unique_ptr<Counter>>(&s.value);
  if (!p) throw std::logic_error("series of " + std::string(name) + " is a callback counter");
  if (!*p) *p = std::make_unique<Counter>();
  return **p;
}

Gauge& MetricsRegistry::GetGauge(std::string_view name, std::string_view help, Labels labels) {
  std::lock_guard lock(mu_);
  Series& s = FindOrCreateLocked(Type::kGauge, name, help, std::move(labels), nullptr, false);
  if (s.value.index() == 0) s.value = std::make_unique<Gauge>();  // new series
  auto* p = std::get_if<std::unique_ptr<Gauge>>(&s.value);
  if (!p) throw std::logic_error("series of " + std::string(name) + " is a callback gauge");
  return **p;
}

Histogram& MetricsRegistry::GetHistogram(std::string_view name, std::string_view help,
                                         std::vector<double> upper_bounds, Labels labels) {
  std::lock_guard lock(mu_);
  Series& s =
      FindOrCreateLocked(Type::kHistogram, name, help, std::move(labels), &upper_bounds, false);
  if (s.value.index() == 0) s.value = std::make_unique<Histogram>(std::move(upper_bounds));
  return *std::get<std::unique_ptr<Histogram>>(s.value);
}

void MetricsRegistry::AddCallbackGauge(std::string_view name, std::string_view help,
                                       Labels labels, std::function<double()> fn) {
  if (!fn) throw std::invalid_argument("empty callback for " + std::string(name));
  std::lock_guard lock(mu_);
  FindOrCreateLocked(Type::kGauge, name, help, std::move(labels), nullptr, true).value =
      std::move(fn);
}

void MetricsRegistry::AddCallbackCounter(std::string_view name, std::string_view help,
                                         Labels labels, std::function<double()> fn) {
  if (!fn) throw std::invalid_argument("empty callback for " + std::string(name));
  std::lock_guard lock(mu_);
  FindOrCreateLocked(Type::kCounter, name, help, std::move(labels), nullptr, true).value =
      std::move(fn);
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::string out;
  std::lock_guard lock(mu_);
  out.reserve(families_.size() * 256);
  for (const auto& [name, family] : families_) {
    out += "# HELP ";
    out += name;
    out += ' ';
    AppendEscaped(out, family->help, /*quote=*/false);
    out += "\n# TYPE ";
    out += name;
    out += family->type == Type::kCounter ? " counter\n"
           : family->type == Type::kGauge ? " gauge\n"
                                          : " histogram\n";
    for (const auto& [labels, series] : family->series) {
      const std::string& lt = series->label_text;
      // A named reference: clang 14 cannot capture a structured binding.
      const std::string& family_name = name;
      auto sample = [&](std::string_view suffix, std::string_view extra_label) {
        out += family_name;
        out += suffix;
        if (!lt.empty() || !extra_label.empty()) {
          out += '{';
          out += lt;
          if (!lt.empty() && !extra_label.empty()) out += ',';
          out += extra_label;
          out += '}';
        }
        out += ' ';
      };
      if (const auto* c = std::get_if<std::unique_ptr<Counter>>(&series->value)) {
        sample("", "");
        AppendJsonUint(out, (*c)->Value());
      } else if (const auto* g = std::get_if<std::unique_ptr<Gauge>>(&series->value)) {
        sample("", "");
        AppendNumber(out, (*g)->Value());
      } else if (const auto* fn = std::get_if<std::function<double()>>(&series->value)) {
        sample("", "");
        AppendNumber(out, (*fn)());
      } else {
        const Histogram& h = *std::get<std::unique_ptr<Histogram>>(series->value);
        const Histogram::Snapshot snap = h.Read();
        uint64_t cumulative = 0;
        std::string le;
        for (size_t i = 0; i < snap.bucket_counts.size(); ++i) {
          cumulative += snap.bucket_counts[i];
          le = "le=\"";
          if (i < h.upper_bounds().size()) {
            AppendNumber(le, h.upper_bounds()[i]);
          } else {
            le += "+Inf";
          }
          le += '"';
          sample("_bucket", le);
          AppendJsonUint(out, cumulative);
          out += '\n';
        }
        sample("_sum", "");
        AppendNumber(out, snap.sum);
        out += '\n';
        sample("_count", "");
        AppendJsonUint(out, snap.count);
      }
      out += '\n';
    }
  }
  return out;
}

}  // namespace shopd::obs
