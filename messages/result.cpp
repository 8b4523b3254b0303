#include "messages/result.hpp"

namespace skep {

const char* to_string(errc code) noexcept {
  switch (code) {
  case errc::none:
    return "none";
  case errc::invalid_argument:
    return "invalid_argument";
  case errc::not_found:
    return "not_found";
  case errc::already_exists:
    return "already_exists";
  case errc::not_manager:
    return "not_manager";
  case errc::unavailable:
    return "unavailable";
  case errc::timeout:
    return "timeout";
  case errc::internal:
    return "internal";
  case errc::malformed_message:
    return "malformed_message";
  case errc::unsupported:
    return "unsupported";
  case errc::permission_denied:
    return "permission_denied";
  case errc::frame_too_large:
    return "frame_too_large";
  }
  return "unknown";
}

} // namespace skep
