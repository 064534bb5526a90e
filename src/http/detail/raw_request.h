// http (internal): what a Request points at. Included only by http/*.cc.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/request.h"

namespace shopd::http {

struct Request::Raw {
  const boost::beast::http::request<boost::beast::http::string_body>* message = nullptr;
};

}  // namespace shopd::http
