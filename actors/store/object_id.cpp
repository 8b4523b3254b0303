#include "actors/store/object_id.hpp"

#include <sodium.h>

namespace skep::controlapi {

std::string new_object_id() {
  static constexpr char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string id(25, '0');
  for (auto& c : id)
    c = alphabet[randombytes_uniform(36)];
  return id;
}

} // namespace skep::controlapi
