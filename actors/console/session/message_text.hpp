#pragma once

// Cap'n Proto text format for the message console: parse what people type
// into any schema struct, print any struct back the same way, render it as
// JSON for scripts, and pick single values out of it by path. Pure code over
// Cap'n Proto's dynamic API; no CAF.
//
// The format: `(field = value, other = value)`. Values are integers (12,
// -3, 0x1f), floats (1.5, 1e3, inf, nan), true/false, "strings" (escapes
// \" \\ \n \t \r \0 \xHH), void, enumerant names, nested `( ... )` structs
// (also groups and union members), `[a, b]` lists, and Data as "text" or
// 0x"68 69". `#` starts a comment to the end of the line.

#include "messages/result.hpp"

#include <cstddef>
#include <string>
#include <string_view>

#include <capnp/dynamic.h>
#include <capnp/schema.h>

namespace skep::console {

/// What parse_struct_text accepts at most.
struct text_limits {
  /// Bytes of text.
  size_t max_bytes = 64 * 1024;
  /// Parentheses and brackets open at once.
  size_t max_depth = 32;
  /// Elements of one list.
  size_t max_list = 10'000;
};

/// Parses `(field = value, ...)` (or an empty text, meaning `()`) into
/// `into`, whose fields must be unset (a fresh builder). On failure returns
/// errc::invalid_argument with a message such as "column 34: unknown field
/// 'replicsa' in ServiceSpec; its fields are: name, labels, ...": columns
/// are 1-based within `text` plus `column_offset` (pass the column before
/// the text in the caller's line); an error past the first line of a
/// multi-line text reads "line 2, column 5: ...". `into` may be partly
/// written when this fails.
result<void> parse_struct_text(std::string_view text,
                               capnp::DynamicStruct::Builder into,
                               size_t column_offset = 0,
                               const text_limits& limits = {});

/// Parses one value (`3`, `"web"`, `(...)`, `[...]`, `void`...) and writes
/// it into `field` of `parent`, selecting it when it is a union member.
/// Errors as for parse_struct_text.
result<void> parse_field_text(std::string_view text,
                              capnp::DynamicStruct::Builder parent,
                              capnp::StructSchema::Field field,
                              size_t column_offset = 0,
                              const text_limits& limits = {});

/// The struct in text format, which parse_struct_text reads back into an
/// equal struct. Omits fields at their default (zero numbers, false, null or
/// empty text, data and lists, structs with nothing to show) except the
/// active union member. Compact on one line, e.g.
/// `(name = "web", replicas = 3, ports = [(published = 8080, target = 80)])`,
/// or with `indent` one field per line, nested parts that do not fit on a
/// line indented by two more spaces. (An enumerant this build has no name
/// for prints as its number, which does not parse back.)
std::string print_text(capnp::DynamicStruct::Reader reader,
                       bool indent = false);

/// One value as print_text writes it (`3`, `"web"`, `running`, `(...)`).
std::string print_value_text(capnp::DynamicValue::Reader value,
                             capnp::Type type, bool indent = false);

/// The struct as a JSON object: every non-union field (defaults included,
/// so scripts can rely on the keys) and the active union member only; texts
/// as strings, Data as a string when it is UTF-8 else {"base64": "..."},
/// enums by name, Void as null, 64-bit integers as numbers. `pretty` indents
/// by two spaces.
std::string to_json_text(capnp::DynamicStruct::Reader reader,
                         bool pretty = false);

/// The value at `path` inside `reader`: field names and list indexes
/// separated by dots, e.g. `services.0.service.spec.name`; an empty path is
/// the whole struct. Scalars read as their text (strings unquoted, enums by
/// name, Data as text when printable else hex), structs and lists as
/// print_text. Fails with errc::not_found naming the step that does not
/// exist and what does (fields, list size, the active union member).
result<std::string> lookup(capnp::DynamicStruct::Reader reader,
                           std::string_view path);

/// How a schema type reads in text: "UInt64", "Text", "List(PortConfig)",
/// "ServiceSpec".
std::string type_name(capnp::Type type);

/// The fields of `schema`, comma separated, as errors list them.
std::string field_names(capnp::StructSchema schema);

} // namespace skep::console
