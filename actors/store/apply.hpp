#pragma once

// The rules of store::apply. Internal to actors/store: store.hpp documents
// them.

#include "actors/store/codec.hpp"
#include "actors/store/state.hpp"
#include "actors/store/store.hpp"
#include "messages/result.hpp"

#include <cstdint>
#include <vector>

namespace skep::store::detail {

/// Applies `actions` (already validated, see validate()) as the entry at
/// `index`: each is checked against the state the ones before it left and
/// its effect is staged; only when all succeeded does `state` change.
/// Staging holds the objects the batch touches, not copies of whole maps.
/// Returns one change per action that applied (skipped conditional actions
/// give none). Takes the actions by value to move their objects in.
result<std::vector<change>> apply_actions(objects& state, uint64_t index,
                                          std::vector<action> actions);

} // namespace skep::store::detail
