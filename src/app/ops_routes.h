// app: operational endpoints every service exposes: /health, /ready, /metrics.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>

#include "core/error.h"

namespace shopd::http {
class Router;
}
namespace shopd::obs {
class MetricsRegistry;
}

namespace shopd::app {

using ReadyCheck = std::function<boost::asio::awaitable<core::Result<void>>()>;

void RegisterOpsRoutes(http::Router& router, obs::MetricsRegistry& metrics, ReadyCheck ready);

}  // namespace shopd::app
