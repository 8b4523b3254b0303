// Messages printed in the console's text form and as JSON, and the paths
// into them. Parsing is in message_text.cpp.

#include "actors/console/session/message_text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <vector>

#include <capnp/message.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace skep::console {

// ---------------------------------------------------------------------------
// Printing

namespace {

using capnp::DynamicList;
using capnp::DynamicStruct;
using capnp::DynamicValue;
using capnp::StructSchema;
using capnp::Type;
using Which = capnp::schema::Type::Which;

bool is_union_member(StructSchema::Field f) {
  return f.getProto().getDiscriminantValue()
         != capnp::schema::Field::NO_DISCRIMINANT;
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0; // continuation bytes
    if (c >= 0x80) {
      if (c >= 0xC2 && c <= 0xDF)
        n = 1;
      else if ((c & 0xF0) == 0xE0)
        n = 2;
      else if (c >= 0xF0 && c <= 0xF4)
        n = 3;
      else
        return false;
    }
    if (i + n >= s.size())
      return false;
    for (size_t k = 1; k <= n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80)
        return false;
    i += n + 1;
  }
  return true;
}

/// UTF-8 text without control characters other than newline, tab, return.
bool printable(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t' && c != '\r') || u == 0x7f)
      return false;
  }
  return valid_utf8(s);
}

std::string quoted(std::string_view bytes) {
  std::string out = "\"";
  for (char c : bytes) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\r':
      out += "\\r";
      break;
    default:
      if (u < 0x20 || u == 0x7f)
        out += fmt::format("\\x{:02x}", u);
      else
        out += c;
    }
  }
  return out + "\"";
}

std::string hex_bytes(std::string_view bytes) {
  std::string out;
  for (char c : bytes)
    out += fmt::format("{:02x}", static_cast<unsigned char>(c));
  return out;
}

std::string_view as_view(capnp::Data::Reader d) {
  return {reinterpret_cast<const char*>(d.begin()), d.size()};
}

std::string_view as_view(capnp::Text::Reader t) {
  return {t.begin(), t.size()};
}

template <class F>
std::string float_text(F value) {
  if (std::isnan(value))
    return "nan";
  if (std::isinf(value))
    return value < 0 ? "-inf" : "inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, ec == std::errc{} ? end : buf);
}

bool has_explicit_default(StructSchema::Field f) {
  auto proto = f.getProto();
  return proto.isSlot() && proto.getSlot().getHadExplicitDefault();
}

bool printable_type(Type t) {
  return t.which() != Which::ANY_POINTER && t.which() != Which::INTERFACE;
}

bool active_member(DynamicStruct::Reader r, StructSchema::Field f) {
  KJ_IF_MAYBE (active, r.which()) {
    return active->getIndex() == f.getIndex();
  }
  return false;
}

constexpr size_t line_width = 80;

std::string print_any(DynamicValue::Reader v, Type t, bool pretty,
                      size_t level);

std::string indentation(size_t level) {
  return std::string(2 * level, ' ');
}

/// The fields print_text shows, as "name = value".
std::vector<std::string> shown_fields(DynamicStruct::Reader r, bool pretty,
                                      size_t level) {
  std::vector<std::string> out;
  for (auto f : r.getSchema().getFields()) {
    auto type = f.getType();
    if (!printable_type(type))
      continue;
    bool active = is_union_member(f) && active_member(r, f);
    if (is_union_member(f) && !active)
      continue;
    std::string name = f.getProto().getName().cStr();
    if (active) {
      out.push_back(name + " = " + print_any(r.get(f), type, pretty, level));
      continue;
    }
    if (f.getProto().isGroup()) {
      auto text = print_any(r.get(f), type, false, level);
      if (text != "()")
        out.push_back(
          name + " = "
          + (pretty ? print_any(r.get(f), type, true, level) : text));
      continue;
    }
    if (!type.isList() && !type.isStruct() && !type.isText()
        && !type.isData()) {
      if (r.has(f, capnp::HasMode::NON_DEFAULT))
        out.push_back(name + " = " + print_any(r.get(f), type, pretty, level));
      continue;
    }
    if (!r.has(f))
      continue; // null pointer
    auto value = r.get(f);
    bool empty = false;
    if (type.isText())
      empty = value.as<capnp::Text>().size() == 0;
    else if (type.isData())
      empty = value.as<capnp::Data>().size() == 0;
    else if (type.isList())
      empty = value.as<DynamicList>().size() == 0;
    else
      empty = print_any(value, type, false, level) == "()";
    if (empty && !has_explicit_default(f))
      continue;
    out.push_back(name + " = " + print_any(value, type, pretty, level));
  }
  return out;
}

std::string wrap(const std::vector<std::string>& items, const char* open,
                 const char* close, bool pretty, size_t level) {
  std::string out = open;
  for (size_t i = 0; i < items.size(); ++i) {
    if (pretty)
      out += (i ? ",\n" : "\n") + indentation(level + 1);
    else if (i)
      out += ", ";
    out += items[i];
  }
  if (pretty && !items.empty())
    out += "\n" + indentation(level);
  return out + close;
}

std::string print_compound(DynamicValue::Reader v, Type t, bool pretty,
                           size_t level) {
  if (pretty) {
    // Parts that fit on their line stay compact.
    auto compact = print_compound(v, t, false, level);
    if (level > 0 && 2 * level + compact.size() + 20 <= line_width)
      return compact;
  }
  std::vector<std::string> items;
  if (t.isStruct()) {
    items = shown_fields(v.as<DynamicStruct>(), pretty, level + 1);
    return wrap(items, "(", ")", pretty, level);
  }
  auto element = t.asList().getElementType();
  for (auto e : v.as<DynamicList>())
    items.push_back(print_any(e, element, pretty, level + 1));
  return wrap(items, "[", "]", pretty, level);
}

std::string print_any(DynamicValue::Reader v, Type t, bool pretty,
                      size_t level) {
  switch (t.which()) {
  case Which::VOID:
    return "void";
  case Which::BOOL:
    return v.as<bool>() ? "true" : "false";
  case Which::INT8:
  case Which::INT16:
  case Which::INT32:
  case Which::INT64:
    return std::to_string(v.as<int64_t>());
  case Which::UINT8:
  case Which::UINT16:
  case Which::UINT32:
  case Which::UINT64:
    return std::to_string(v.as<uint64_t>());
  case Which::FLOAT32:
    return float_text(v.as<float>());
  case Which::FLOAT64:
    return float_text(v.as<double>());
  case Which::TEXT:
    return quoted(as_view(v.as<capnp::Text>()));
  case Which::DATA: {
    auto bytes = as_view(v.as<capnp::Data>());
    if (printable(bytes))
      return quoted(bytes);
    return "0x\"" + hex_bytes(bytes) + "\"";
  }
  case Which::ENUM: {
    auto e = v.as<capnp::DynamicEnum>();
    KJ_IF_MAYBE (enumerant, e.getEnumerant()) {
      return enumerant->getProto().getName().cStr();
    }
    return std::to_string(e.getRaw());
  }
  case Which::STRUCT:
  case Which::LIST:
    return print_compound(v, t, pretty, level);
  default:
    return "void";
  }
}

} // namespace

std::string print_text(DynamicStruct::Reader reader, bool indent) {
  if (!indent)
    return print_compound(reader, reader.getSchema(), false, 0);
  auto items = shown_fields(reader, true, 1);
  return wrap(items, "(", ")", true, 0);
}

std::string print_value_text(DynamicValue::Reader value, Type type,
                             bool indent) {
  return print_any(value, type, indent, 0);
}

// ---------------------------------------------------------------------------
// JSON

namespace {

using json = nlohmann::ordered_json;

std::string base64(std::string_view bytes) {
  static const char* alphabet
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n
      = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16
        | static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8
        | static_cast<unsigned char>(bytes[i + 2]);
    for (int k = 18; k >= 0; k -= 6)
      out += alphabet[(n >> k) & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i]))
                 << 16;
    if (rest == 2)
      n |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += rest == 2 ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

json json_of(DynamicValue::Reader v, Type t) {
  switch (t.which()) {
  case Which::VOID:
    return nullptr;
  case Which::BOOL:
    return v.as<bool>();
  case Which::INT8:
  case Which::INT16:
  case Which::INT32:
  case Which::INT64:
    return v.as<int64_t>();
  case Which::UINT8:
  case Which::UINT16:
  case Which::UINT32:
  case Which::UINT64:
    return v.as<uint64_t>();
  case Which::FLOAT32:
  case Which::FLOAT64:
    return v.as<double>();
  case Which::TEXT:
    return std::string(as_view(v.as<capnp::Text>()));
  case Which::DATA: {
    auto bytes = as_view(v.as<capnp::Data>());
    if (valid_utf8(bytes))
      return std::string(bytes);
    return json{{"base64", base64(bytes)}};
  }
  case Which::ENUM: {
    auto e = v.as<capnp::DynamicEnum>();
    KJ_IF_MAYBE (enumerant, e.getEnumerant()) {
      return enumerant->getProto().getName().cStr();
    }
    return e.getRaw();
  }
  case Which::LIST: {
    auto out = json::array();
    auto element = t.asList().getElementType();
    for (auto e : v.as<DynamicList>())
      out.push_back(json_of(e, element));
    return out;
  }
  case Which::STRUCT: {
    auto r = v.as<DynamicStruct>();
    auto out = json::object();
    for (auto f : r.getSchema().getFields()) {
      if (!printable_type(f.getType())
          || (is_union_member(f) && !active_member(r, f)))
        continue;
      out[f.getProto().getName().cStr()] = json_of(r.get(f), f.getType());
    }
    return out;
  }
  default:
    return nullptr;
  }
}

} // namespace

std::string to_json_text(DynamicStruct::Reader reader, bool pretty) {
  return json_of(reader, reader.getSchema())
    .dump(pretty ? 2 : -1, ' ', false, json::error_handler_t::replace);
}

// ---------------------------------------------------------------------------
// Paths

result<std::string> lookup(DynamicStruct::Reader reader,
                           std::string_view path) {
  if (path.empty())
    return print_text(reader);
  DynamicValue::Reader current = reader;
  Type type = reader.getSchema();
  std::string so_far;
  auto at
    = [&] { return so_far.empty() ? std::string() : " at '" + so_far + "'"; };
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = std::min(path.find('.', start), path.size());
    std::string step(path.substr(start, dot - start));
    if (step.empty())
      return fail(errc::invalid_argument,
                  fmt::format("empty step in path '{}'", path));
    if (type.isStruct()) {
      auto s = current.as<DynamicStruct>();
      auto found = s.getSchema().findFieldByName(step.c_str());
      KJ_IF_MAYBE (f, found) {
        if (is_union_member(*f) && !active_member(s, *f)) {
          std::string holds = "nothing this build knows";
          KJ_IF_MAYBE (active, s.which()) {
            holds = fmt::format("'{}'", active->getProto().getName().cStr());
          }
          return fail(errc::not_found,
                      fmt::format("'{}' is not set in {}{}; it holds {}", step,
                                  type_name(type), at(), holds));
        }
        current = s.get(*f);
        type = f->getType();
      } else {
        return fail(errc::not_found,
                    fmt::format("no field '{}' in {}{}; its fields are: {}",
                                step, type_name(type), at(),
                                field_names(s.getSchema())));
      }
    } else if (type.isList()) {
      auto list = current.as<DynamicList>();
      size_t index = 0;
      auto [end, ec]
        = std::from_chars(step.data(), step.data() + step.size(), index);
      if (ec != std::errc{} || end != step.data() + step.size())
        return fail(
          errc::not_found,
          fmt::format("'{}' is a list; '{}' is not an index", so_far, step));
      if (index >= list.size())
        return fail(errc::not_found,
                    fmt::format("'{}' has {} element{}; there is no element "
                                "{}",
                                so_far, list.size(),
                                list.size() == 1 ? "" : "s", index));
      current = list[static_cast<capnp::uint>(index)];
      type = type.asList().getElementType();
    } else {
      return fail(errc::not_found,
                  fmt::format("'{}' is {}; it has no part '{}'", so_far,
                              type_name(type), step));
    }
    so_far += (so_far.empty() ? "" : ".") + step;
    start = dot + 1;
  }
  switch (type.which()) {
  case Which::TEXT:
    return std::string(as_view(current.as<capnp::Text>()));
  case Which::DATA: {
    auto bytes = as_view(current.as<capnp::Data>());
    return printable(bytes) ? std::string(bytes)
                            : "0x\"" + hex_bytes(bytes) + "\"";
  }
  default:
    return print_any(current, type, false, 0);
  }
}

} // namespace skep::console
