#pragma once

// A guard run before a YAML parser sees outside input: how deeply the text
// nests, so that a file nested thousands of levels deep is refused with the
// limit named rather than by the parser's recursion guard.

#include "messages/result.hpp"

#include <cstddef>
#include <string_view>

namespace skep::config {

/// How deeply `text` nests YAML collections: flow brackets ([ and {) plus
/// block levels (deeper indentation, and each "- " that opens a sequence
/// entry), quoted scalars and comments skipped. Counting stops past `cap`.
size_t yaml_nesting_depth(std::string_view text, size_t cap);

/// Fails naming `source`, the line and `max_depth` when `text` nests deeper.
result<void> check_yaml_depth(std::string_view text, size_t max_depth,
                              std::string_view source);

} // namespace skep::config
