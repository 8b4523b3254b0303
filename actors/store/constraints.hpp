#pragma once

// Placement constraints as Swarm spells them: "node.id==X",
// "node.hostname!=Y", "node.role==manager", "node.labels.K==V". Pure: no CAF.

#include "actors/store/objects.hpp"
#include "messages/result.hpp"

#include <string>
#include <vector>

namespace skep::scheduler {

/// One parsed constraint expression.
struct constraint {
  /// What of the node the expression looks at.
  enum class key_kind { node_id, hostname, role, label };
  key_kind key = key_kind::node_id;
  /// The label name for key_kind::label (case kept); empty otherwise.
  std::string label;
  /// True for ==, false for !=.
  bool equal = true;
  /// Non-empty, trimmed. For key_kind::role "manager" or "worker".
  std::string value;
};

/// Parses each expression "KEY==VALUE" or "KEY!=VALUE", whitespace allowed
/// around the operator. KEY is node.id, node.hostname, node.role or
/// node.labels.NAME; the node.* part is case-insensitive, as in Docker.
/// Fails with errc::invalid_argument and a message naming the first bad
/// expression and what to write instead (unknown key, missing operator, more
/// than one operator, empty value, empty label name, role not manager/worker).
result<std::vector<constraint>>
parse_constraints(const std::vector<std::string>& expressions);

/// True when `node` satisfies every constraint (an empty list matches all).
/// Values compare case-insensitively, as Docker's do. A label the node lacks
/// fails `==` and passes `!=`.
bool matches(const std::vector<constraint>& constraints,
             const store::node_object& node);

} // namespace skep::scheduler
