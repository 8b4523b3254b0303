#include "actors/store/object_id.hpp"

#include <chrono>

#include <sodium.h>

namespace skep::controlapi {

std::string new_object_id() {
  static constexpr char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string id(25, '0');
  for (auto& c : id)
    c = alphabet[randombytes_uniform(36)];
  return id;
}

int64_t unix_nanos() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch())
    .count();
}

} // namespace skep::controlapi
