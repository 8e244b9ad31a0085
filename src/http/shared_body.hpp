#pragma once
// A Beast body over a shared immutable buffer: a stored image is written to the socket
// straight from the buffer the store or the cache holds, with no copy per response.
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>
#include <cstdint>
#include <utility>

#include "core/bytes.hpp"

namespace imagecpp::http {

struct SharedBody {
  using value_type = SharedBytes;

  static std::uint64_t size(const value_type& body) { return body ? body->size() : 0; }

  class writer {
   public:
    using const_buffers_type = boost::asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(const boost::beast::http::header<isRequest, Fields>&, const value_type& body)
        : body_(body) {}

    void init(boost::beast::error_code& ec) { ec = {}; }

    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      ec = {};
      if (done_ || !body_ || body_->empty()) return boost::none;
      done_ = true;
      return std::make_pair(const_buffers_type(body_->data(), body_->size()), false);
    }

   private:
    const value_type& body_;
    bool done_ = false;
  };
};

}  // namespace imagecpp::http
