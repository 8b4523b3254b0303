#pragma once

#include "actors/store/codec.hpp"
#include "actors/store/store.hpp"
#include "messages/control.capnp.h"
#include "messages/envelope.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace skep::controlapi {

/// The most a service spec's texts (arguments, environment, labels,
/// constraints, image, name) may hold, as Swarm caps a secret: every task
/// keeps a copy of them.
inline constexpr size_t max_spec_bytes = 512 * 1024;

/// How the control API answers a service or task request.
struct service_answer {
  /// The answer now: a read, or a request refused before anything was
  /// written.
  std::optional<control_reply> reply;
  /// Otherwise: the batch to propose, and the answer once it committed.
  std::vector<store::action> actions;
  control_reply on_commit;
};

/// True for the requests handle_service_request() answers.
bool is_service_request(schema::control::Request::Which which);

/// Answers serviceCreate, serviceList, serviceInspect, serviceUpdate,
/// serviceRemove and taskList from the store `db`. Validation happens here,
/// before anything is proposed: a bad spec, an unknown constraint key, a
/// name in use or an unknown service gets an error naming the problem.
/// `now` stamps created and updated objects; `new_id` names new services.
service_answer
handle_service_request(const store::store& db,
                       schema::control::Request::Reader req, int64_t now,
                       const std::function<std::string()>& new_id);

/// Tasks of a replicated service that run, and the replicas it wants
/// (global: the nodes that should run one); as `service ls` shows them.
std::pair<uint64_t, uint64_t>
running_and_desired(const store::store& db, const store::service_object& s);

} // namespace skep::controlapi
