#include "actors/transport/ca_join_check.hpp"

namespace skep::transport {

join_check make_join_check(std::shared_ptr<ca::shared_authority> shared) {
  return [shared](const join_claim& claim) -> result<ca::node_role> {
    return shared->with([&](ca::authority& a) -> result<ca::node_role> {
      if (auto allowed = a.may_hold(claim.node_id, claim.node_key); !allowed)
        return std::move(allowed).error();
      return a.check_join(claim.challenge.data(), claim.challenge.size(),
                          claim.node_key, claim.proof);
    });
  };
}

} // namespace skep::transport
