// Messages in the console's text form parsed into Cap'n Proto builders,
// and the type names errors show. Printing is in message_print.cpp. Its
// length is one recursive descent over every Cap'n Proto type (structs,
// unions, lists, enums, blobs, numbers with units), whose cases share the
// cursor and the error positions; the client's code, not the daemon's.

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

namespace {

using capnp::DynamicList;
using capnp::DynamicStruct;
using capnp::DynamicValue;
using capnp::StructSchema;
using capnp::Type;
using Which = capnp::schema::Type::Which;

// ---------------------------------------------------------------------------
// Positions and error messages

/// The text being parsed, for turning byte offsets into "column N".
struct source {
  std::string_view text;
  size_t column_offset = 0;

  std::string where(size_t pos) const {
    size_t line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < pos && i < text.size(); ++i)
      if (text[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    size_t column = 1;
    for (size_t i = line_start; i < pos && i < text.size(); ++i)
      if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80)
        ++column; // count UTF-8 characters, not bytes
    if (line == 1)
      return fmt::format("column {}", column + column_offset);
    return fmt::format("line {}, column {}", line, column);
  }

  std::string column_of(size_t pos) const {
    auto w = where(pos);
    return w.substr(w.find("column"));
  }

  failure error(size_t pos, const std::string& problem) const {
    return fail(errc::invalid_argument,
                fmt::format("{}: {}", where(pos), problem));
  }
};

/// A short, printable rendering of source text for error messages.
std::string shown(std::string_view raw) {
  std::string out;
  for (char c : raw.substr(0, 40)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f)
      out += fmt::format("\\x{:02x}", u);
    else
      out += c;
  }
  if (raw.size() > 40)
    out += "...";
  return out;
}

// ---------------------------------------------------------------------------
// Tokens

enum class tok {
  open_paren,
  close_paren,
  open_bracket,
  close_bracket,
  comma,
  equals,
  word,
  number,
  string,
  data,
  end,
};

struct token {
  tok kind = tok::end;
  size_t pos = 0;
  std::string_view raw; // as written
  std::string bytes;    // decoded string or data
};

std::string describe(const token& t) {
  if (t.kind == tok::end)
    return "the end of the text";
  return "'" + shown(t.raw) + "'";
}

bool is_word_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}

bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

class lexer {
 public:
  lexer(const source& src, const text_limits& limits)
    : src_(src), text_(src.text), limits_(limits) {}

  /// Splits the whole text; checks characters, strings, bracket balance and
  /// nesting depth.
  result<std::vector<token>> run() {
    std::vector<token> out;
    std::vector<std::pair<char, size_t>> open;
    while (true) {
      skip_space();
      if (i_ >= text_.size())
        break;
      size_t start = i_;
      char c = text_[i_];
      token t;
      t.pos = start;
      if (c == '(' || c == '[') {
        t.kind = c == '(' ? tok::open_paren : tok::open_bracket;
        open.emplace_back(c, start);
        if (open.size() > limits_.max_depth)
          return src_.error(start, fmt::format("nesting deeper than {} levels",
                                               limits_.max_depth));
        ++i_;
      } else if (c == ')' || c == ']') {
        t.kind = c == ')' ? tok::close_paren : tok::close_bracket;
        char want = c == ')' ? '(' : '[';
        if (open.empty())
          return src_.error(start, fmt::format("'{}' without '{}'", c, want));
        if (open.back().first != want)
          return src_.error(start,
                            fmt::format("'{}' does not close '{}' at {}; "
                                        "expected '{}'",
                                        c, open.back().first,
                                        src_.column_of(open.back().second),
                                        open.back().first == '(' ? ')' : ']'));
        open.pop_back();
        ++i_;
      } else if (c == ',' || c == '=') {
        t.kind = c == ',' ? tok::comma : tok::equals;
        ++i_;
      } else if (c == '"') {
        t.kind = tok::string;
        if (auto r = read_string(t.bytes); !r)
          return std::move(r).error();
      } else if (c == '0' && i_ + 2 < text_.size() && text_[i_ + 1] == 'x'
                 && text_[i_ + 2] == '"') {
        t.kind = tok::data;
        if (auto r = read_hex_data(t.bytes); !r)
          return std::move(r).error();
      } else if (std::isdigit(static_cast<unsigned char>(c))
                 || ((c == '-' || c == '+') && i_ + 1 < text_.size()
                     && (is_word_char(text_[i_ + 1]) || text_[i_ + 1] == '.'))
                 || (c == '.' && i_ + 1 < text_.size()
                     && std::isdigit(
                       static_cast<unsigned char>(text_[i_ + 1])))) {
        t.kind = tok::number;
        read_number();
      } else if (is_word_start(c)) {
        t.kind = tok::word;
        while (i_ < text_.size() && is_word_char(text_[i_]))
          ++i_;
      } else {
        return src_.error(start, fmt::format("unexpected character '{}'",
                                             shown(text_.substr(start, 1))));
      }
      t.raw = text_.substr(start, i_ - start);
      out.push_back(std::move(t));
    }
    if (!open.empty()) {
      auto [c, at] = open.back();
      return src_.error(text_.size(),
                        fmt::format("unbalanced {}: '{}' at {} is never closed",
                                    c == '(' ? "parentheses" : "brackets", c,
                                    src_.column_of(at)));
    }
    token end;
    end.pos = text_.size();
    out.push_back(end);
    return out;
  }

 private:
  void skip_space() {
    while (i_ < text_.size()) {
      char c = text_[i_];
      if (c == '#') {
        while (i_ < text_.size() && text_[i_] != '\n')
          ++i_;
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        ++i_;
      } else {
        return;
      }
    }
  }

  void read_number() {
    bool hex = text_.substr(i_).rfind("0x", 0) == 0
               || text_.substr(i_).rfind("-0x", 0) == 0;
    ++i_;
    while (i_ < text_.size()) {
      char c = text_[i_];
      char prev = text_[i_ - 1];
      if (is_word_char(c) || c == '.'
          || (!hex && (c == '+' || c == '-') && (prev == 'e' || prev == 'E')))
        ++i_;
      else
        break;
    }
  }

  result<void> read_string(std::string& out) {
    size_t start = i_++;
    while (i_ < text_.size() && text_[i_] != '"') {
      char c = text_[i_];
      if (c != '\\') {
        out += c;
        ++i_;
        continue;
      }
      size_t esc = i_;
      if (++i_ >= text_.size())
        break;
      char e = text_[i_++];
      switch (e) {
      case '"':
        out += '"';
        break;
      case '\'':
        out += '\'';
        break;
      case '\\':
        out += '\\';
        break;
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case '0':
        out += '\0';
        break;
      case 'x': {
        int hi = i_ < text_.size() ? hex_digit(text_[i_]) : -1;
        int lo = i_ + 1 < text_.size() ? hex_digit(text_[i_ + 1]) : -1;
        if (hi < 0 || lo < 0)
          return src_.error(esc, "\\x needs two hex digits, e.g. \\x41");
        out += static_cast<char>(hi * 16 + lo);
        i_ += 2;
        break;
      }
      default:
        return src_.error(esc,
                          fmt::format("unknown escape '\\{}' in a string; "
                                      "use \\\" \\\\ \\n \\t \\r \\0 or \\xHH",
                                      shown(std::string_view(&e, 1))));
      }
    }
    if (i_ >= text_.size())
      return src_.error(start, "this string is never closed (no closing '\"')");
    ++i_; // the closing quote
    return {};
  }

  result<void> read_hex_data(std::string& out) {
    size_t start = i_;
    i_ += 3; // 0x"
    int high = -1;
    while (i_ < text_.size() && text_[i_] != '"') {
      char c = text_[i_];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i_;
        continue;
      }
      int d = hex_digit(c);
      if (d < 0)
        return src_.error(i_,
                          fmt::format("'{}' is not a hex digit in 0x\"...\"",
                                      shown(text_.substr(i_, 1))));
      if (high < 0) {
        high = d;
      } else {
        out += static_cast<char>(high * 16 + d);
        high = -1;
      }
      ++i_;
    }
    if (i_ >= text_.size())
      return src_.error(start,
                        "this 0x\"...\" is never closed (no closing '\"')");
    if (high >= 0)
      return src_.error(i_, "0x\"...\" needs an even number of hex digits");
    ++i_;
    return {};
  }

  const source& src_;
  std::string_view text_;
  const text_limits& limits_;
  size_t i_ = 0;
};

// ---------------------------------------------------------------------------
// Syntax: tokens to a tree of values

struct value_node {
  tok kind = tok::end; // open_paren: struct, open_bracket: list, else a leaf
  const token* leaf = nullptr;
  size_t pos = 0;
  std::string_view name; // for the fields of a struct
  size_t name_pos = 0;
  std::vector<value_node> items; // fields or elements
};

class syntax {
 public:
  syntax(const source& src, const std::vector<token>& tokens,
         const text_limits& limits)
    : src_(src), tokens_(tokens), limits_(limits) {}

  const token& peek() const { return tokens_[i_]; }
  const token& next() { return tokens_[i_ < tokens_.size() - 1 ? i_++ : i_]; }

  result<value_node> value(std::string_view what) {
    const token& t = next();
    value_node n;
    n.kind = t.kind;
    n.pos = t.pos;
    switch (t.kind) {
    case tok::open_paren:
      if (auto r = struct_body(n); !r)
        return std::move(r).error();
      return n;
    case tok::open_bracket:
      if (auto r = list_body(n); !r)
        return std::move(r).error();
      return n;
    case tok::word:
    case tok::number:
    case tok::string:
    case tok::data:
      n.leaf = &t;
      return n;
    default:
      return src_.error(
        t.pos, fmt::format("expected a value{}, found {}", what, describe(t)));
    }
  }

 private:
  result<void> struct_body(value_node& n) {
    while (true) {
      const token& t = next();
      if (t.kind == tok::close_paren)
        return {};
      if (t.kind != tok::word)
        return src_.error(
          t.pos, fmt::format("expected a field name, found {}", describe(t)));
      const token& eq = next();
      if (eq.kind != tok::equals)
        return src_.error(eq.pos,
                          fmt::format("expected '=' after the field name "
                                      "'{}', found {}",
                                      t.raw, describe(eq)));
      auto v = value(fmt::format(" for '{}'", t.raw));
      if (!v)
        return std::move(v).error();
      v->name = t.raw;
      v->name_pos = t.pos;
      n.items.push_back(std::move(*v));
      const token& sep = next();
      if (sep.kind == tok::close_paren)
        return {};
      if (sep.kind != tok::comma)
        return src_.error(sep.pos, fmt::format("expected ',' or ')' after a "
                                               "field, found {}",
                                               describe(sep)));
    }
  }

  result<void> list_body(value_node& n) {
    while (true) {
      if (peek().kind == tok::close_bracket) {
        next();
        return {};
      }
      if (n.items.size() == limits_.max_list)
        return src_.error(
          peek().pos,
          fmt::format("a list may have at most {} elements", limits_.max_list));
      auto v = value(" in the list");
      if (!v)
        return std::move(v).error();
      n.items.push_back(std::move(*v));
      const token& sep = next();
      if (sep.kind == tok::close_bracket)
        return {};
      if (sep.kind != tok::comma)
        return src_.error(sep.pos, fmt::format("expected ',' or ']' after a "
                                               "list element, found {}",
                                               describe(sep)));
    }
  }

  const source& src_;
  const std::vector<token>& tokens_;
  const text_limits& limits_;
  size_t i_ = 0;
};

// ---------------------------------------------------------------------------
// Semantics: a value tree into a builder

bool is_union_member(StructSchema::Field f) {
  return f.getProto().getDiscriminantValue()
         != capnp::schema::Field::NO_DISCRIMINANT;
}

struct int_range {
  const char* name;
  bool is_signed;
  int64_t min;
  uint64_t max;
};

int_range range_of(Which w) {
  switch (w) {
  case Which::INT8:
    return {"Int8", true, INT8_MIN, INT8_MAX};
  case Which::INT16:
    return {"Int16", true, INT16_MIN, INT16_MAX};
  case Which::INT32:
    return {"Int32", true, INT32_MIN, INT32_MAX};
  case Which::INT64:
    return {"Int64", true, INT64_MIN, INT64_MAX};
  case Which::UINT8:
    return {"UInt8", false, 0, UINT8_MAX};
  case Which::UINT16:
    return {"UInt16", false, 0, UINT16_MAX};
  case Which::UINT32:
    return {"UInt32", false, 0, UINT32_MAX};
  default:
    return {"UInt64", false, 0, UINT64_MAX};
  }
}

class applier {
 public:
  explicit applier(const source& src) : src_(src) {}

  result<void> fill_struct(const value_node& n, DynamicStruct::Builder b) {
    auto schema = b.getSchema();
    std::vector<std::pair<std::string_view, size_t>> seen;
    const value_node* union_member = nullptr;
    for (const auto& item : n.items) {
      auto found
        = schema.findFieldByName(kj::StringPtr(std::string(item.name).c_str()));
      KJ_IF_MAYBE (f, found) {
        for (auto& [name, at] : seen)
          if (name == item.name)
            return src_.error(item.name_pos,
                              fmt::format("field '{}' set twice (first at {})",
                                          name, src_.column_of(at)));
        seen.emplace_back(item.name, item.name_pos);
        if (is_union_member(*f)) {
          if (union_member)
            return src_.error(item.name_pos,
                              fmt::format("two members of the same union: "
                                          "'{}' and '{}'",
                                          union_member->name, item.name));
          union_member = &item;
        }
        if (auto r = set_field(item, b, *f); !r)
          return r;
      } else {
        auto names = field_names(schema);
        return src_.error(
          item.name_pos,
          fmt::format(
            "unknown field '{}' in {}; {}", item.name, type_name(schema),
            names.empty() ? "it has no fields" : "its fields are: " + names));
      }
    }
    return {};
  }

  result<void> set_field(const value_node& v, DynamicStruct::Builder b,
                         StructSchema::Field f) {
    auto type = f.getType();
    auto what = fmt::format("field '{}' of {}", f.getProto().getName().cStr(),
                            type_name(b.getSchema()));
    if (type.isStruct()) {
      if (v.kind != tok::open_paren)
        return shape_error(v, what, type, "( ... )");
      return fill_struct(v, b.init(f).as<DynamicStruct>());
    }
    if (type.isList()) {
      if (v.kind != tok::open_bracket)
        return shape_error(v, what, type, "[ ... ]");
      auto list
        = b.init(f, static_cast<capnp::uint>(v.items.size())).as<DynamicList>();
      return fill_list(v, list, type.asList().getElementType(), what);
    }
    auto scalar = to_scalar(v, type, what);
    if (!scalar)
      return std::move(scalar).error();
    b.set(f, *scalar);
    return {};
  }

 private:
  result<void> fill_list(const value_node& n, DynamicList::Builder list,
                         Type element, const std::string& what) {
    for (size_t i = 0; i < n.items.size(); ++i) {
      const auto& v = n.items[i];
      auto index = static_cast<capnp::uint>(i);
      auto elem_what = fmt::format("element {} of {}", i, what);
      if (element.isStruct()) {
        if (v.kind != tok::open_paren)
          return shape_error(v, elem_what, element, "( ... )");
        if (auto r = fill_struct(v, list[index].as<DynamicStruct>()); !r)
          return r;
      } else if (element.isList()) {
        if (v.kind != tok::open_bracket)
          return shape_error(v, elem_what, element, "[ ... ]");
        auto inner = list.init(index, static_cast<capnp::uint>(v.items.size()))
                       .as<DynamicList>();
        auto r
          = fill_list(v, inner, element.asList().getElementType(), elem_what);
        if (!r)
          return r;
      } else {
        auto scalar = to_scalar(v, element, elem_what);
        if (!scalar)
          return std::move(scalar).error();
        list.set(index, *scalar);
      }
    }
    return {};
  }

  std::string written(const value_node& v) const {
    if (v.leaf)
      return shown(v.leaf->raw);
    return v.kind == tok::open_paren ? "( ... )" : "[ ... ]";
  }

  failure shape_error(const value_node& v, const std::string& what, Type type,
                      const char* shape) const {
    return src_.error(v.pos,
                      fmt::format("{} is {}; write it as {}, not {}", what,
                                  type_name(type), shape, written(v)));
  }

  result<DynamicValue::Reader> to_scalar(const value_node& v, Type type,
                                         const std::string& what) {
    auto w = type.which();
    const token* t = v.leaf;
    auto wrong = [&](const char* expected) {
      return src_.error(v.pos,
                        fmt::format("{} is {}; write {}, not {}", what,
                                    type_name(type), expected, written(v)));
    };
    switch (w) {
    case Which::VOID:
      if (!t || t->raw != "void")
        return wrong("void");
      return DynamicValue::Reader(capnp::VOID);
    case Which::BOOL:
      if (!t || (t->raw != "true" && t->raw != "false"))
        return wrong("true or false");
      return DynamicValue::Reader(t->raw == "true");
    case Which::INT8:
    case Which::INT16:
    case Which::INT32:
    case Which::INT64:
    case Which::UINT8:
    case Which::UINT16:
    case Which::UINT32:
    case Which::UINT64:
      return to_integer(v, type, what);
    case Which::FLOAT32:
    case Which::FLOAT64:
      return to_float(v, type, what);
    case Which::TEXT:
      if (!t || t->kind != tok::string)
        return wrong("a \"string\"");
      if (t->bytes.find('\0') != std::string::npos)
        return src_.error(v.pos, fmt::format("{} is Text, which cannot hold "
                                             "\\0; use Data for bytes",
                                             what));
      return DynamicValue::Reader(
        capnp::Text::Reader(t->bytes.c_str(), t->bytes.size()));
    case Which::DATA:
      if (!t || (t->kind != tok::string && t->kind != tok::data))
        return wrong("a \"string\" or 0x\"hex bytes\"");
      return DynamicValue::Reader(capnp::Data::Reader(
        reinterpret_cast<const capnp::byte*>(t->bytes.data()),
        t->bytes.size()));
    case Which::ENUM:
      return to_enum(v, type, what);
    default:
      return src_.error(v.pos, fmt::format("{} is {}, which the console "
                                           "cannot write",
                                           what, type_name(type)));
    }
  }

  result<DynamicValue::Reader> to_enum(const value_node& v, Type type,
                                       const std::string& what) {
    auto schema = type.asEnum();
    std::string names;
    for (auto e : schema.getEnumerants())
      names
        += (names.empty() ? "" : ", ") + std::string(e.getProto().getName());
    const token* t = v.leaf;
    if (t && t->kind == tok::word) {
      KJ_IF_MAYBE (e, schema.findEnumerantByName(
                        kj::StringPtr(std::string(t->raw).c_str()))) {
        return DynamicValue::Reader(capnp::DynamicEnum(*e));
      }
      return src_.error(v.pos,
                        fmt::format("{} is {}; '{}' is not one of: {}", what,
                                    type_name(type), t->raw, names));
    }
    if (t && t->kind == tok::number) {
      // An enumerant by number, as print_text writes ones it has no name for.
      uint64_t raw = 0;
      auto [end, ec]
        = std::from_chars(t->raw.data(), t->raw.data() + t->raw.size(), raw);
      if (ec == std::errc{} && end == t->raw.data() + t->raw.size()
          && raw < schema.getEnumerants().size())
        return DynamicValue::Reader(
          capnp::DynamicEnum(schema, static_cast<uint16_t>(raw)));
    }
    return src_.error(v.pos,
                      fmt::format("{} is {}; write one of: {}, not {}", what,
                                  type_name(type), names, written(v)));
  }

  result<DynamicValue::Reader> to_integer(const value_node& v, Type type,
                                          const std::string& what) {
    auto range = range_of(type.which());
    const token* t = v.leaf;
    auto problem = [&](const std::string& p) {
      return src_.error(v.pos,
                        fmt::format("{} is {}; {}", what, range.name, p));
    };
    if (!t || t->kind != tok::number)
      return problem(fmt::format("{} is not a number", written(v)));
    std::string_view s = t->raw;
    bool negative = false;
    if (s[0] == '-' || s[0] == '+') {
      negative = s[0] == '-';
      s.remove_prefix(1);
    }
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
      base = 16;
      s.remove_prefix(2);
    }
    uint64_t magnitude = 0;
    auto [end, ec]
      = std::from_chars(s.data(), s.data() + s.size(), magnitude, base);
    bool whole = end == s.data() + s.size();
    if (ec == std::errc::result_out_of_range)
      return src_.error(v.pos, fmt::format("{}: value {} does not fit {}", what,
                                           t->raw, range.name));
    if (ec != std::errc{} || !whole) {
      char* fend = nullptr;
      std::string copy(t->raw);
      std::strtod(copy.c_str(), &fend);
      if (fend == copy.c_str() + copy.size())
        return problem(fmt::format("{} is not an integer", t->raw));
      return problem(fmt::format("{} is not a number", t->raw));
    }
    if (negative && magnitude != 0 && !range.is_signed)
      return problem(fmt::format("{} is negative", t->raw));
    auto too_big = [&] {
      return src_.error(v.pos, fmt::format("{}: value {} does not fit {} ({} "
                                           "to {})",
                                           what, t->raw, range.name, range.min,
                                           range.max));
    };
    if (negative) {
      uint64_t limit = static_cast<uint64_t>(-(range.min + 1)) + 1;
      if (magnitude > limit)
        return too_big();
      int64_t value
        = magnitude == limit ? range.min : -static_cast<int64_t>(magnitude);
      return DynamicValue::Reader(static_cast<long long>(value));
    }
    if (magnitude > range.max)
      return too_big();
    if (range.is_signed)
      return DynamicValue::Reader(static_cast<long long>(magnitude));
    return DynamicValue::Reader(static_cast<unsigned long long>(magnitude));
  }

  result<DynamicValue::Reader> to_float(const value_node& v, Type type,
                                        const std::string& what) {
    const token* t = v.leaf;
    auto name = type_name(type);
    if (!t || (t->kind != tok::number && t->kind != tok::word))
      return src_.error(v.pos, fmt::format("{} is {}; {} is not a number", what,
                                           name, written(v)));
    std::string s(t->raw);
    double value = 0;
    std::string_view body = s;
    bool negative = !body.empty() && body[0] == '-';
    if (!body.empty() && (body[0] == '-' || body[0] == '+'))
      body.remove_prefix(1);
    if (body == "inf" || body == "infinity") {
      value = negative ? -HUGE_VAL : HUGE_VAL;
    } else if (body == "nan") {
      value = std::numeric_limits<double>::quiet_NaN();
    } else {
      char* end = nullptr;
      value = std::strtod(s.c_str(), &end);
      if (t->kind != tok::number || end != s.c_str() + s.size())
        return src_.error(v.pos, fmt::format("{} is {}; {} is not a number",
                                             what, name, written(v)));
    }
    if (type.which() == Which::FLOAT32) {
      if (std::isfinite(value)
          && std::fabs(value) > std::numeric_limits<float>::max())
        return src_.error(v.pos, fmt::format("{}: value {} does not fit "
                                             "Float32",
                                             what, t->raw));
      return DynamicValue::Reader(static_cast<float>(value));
    }
    return DynamicValue::Reader(value);
  }

  const source& src_;
};

/// Lexes and checks the size; the tokens must outlive any value tree.
result<std::vector<token>> tokenize(const source& src,
                                    const text_limits& limits) {
  if (src.text.size() > limits.max_bytes)
    return fail(errc::invalid_argument,
                fmt::format("the message text is {} bytes; at most {} are "
                            "accepted",
                            src.text.size(), limits.max_bytes));
  return lexer(src, limits).run();
}

failure unexpected_exception(const kj::Exception& e) {
  return fail(errc::internal, fmt::format("could not build the message: {}",
                                          e.getDescription().cStr()));
}

} // namespace

// ---------------------------------------------------------------------------
// Parsing entry points

result<void> parse_struct_text(std::string_view text,
                               DynamicStruct::Builder into,
                               size_t column_offset,
                               const text_limits& limits) {
  source src{text, column_offset};
  auto tokens = tokenize(src, limits);
  if (!tokens)
    return std::move(tokens).error();
  const auto& first = tokens->front();
  if (first.kind == tok::end)
    return {}; // an empty text is ()
  if (first.kind != tok::open_paren)
    return src.error(first.pos,
                     fmt::format("expected '(' to start {}, found {}",
                                 type_name(into.getSchema()), describe(first)));
  syntax parser(src, *tokens, limits);
  auto tree = parser.value("");
  if (!tree)
    return std::move(tree).error();
  if (parser.peek().kind != tok::end)
    return src.error(parser.peek().pos,
                     fmt::format("unexpected {} after the closing ')' of the "
                                 "'(' at {}",
                                 describe(parser.peek()),
                                 src.column_of(first.pos)));
  try {
    return applier(src).fill_struct(*tree, into);
  } catch (const kj::Exception& e) {
    return unexpected_exception(e);
  }
}

result<void> parse_field_text(std::string_view text,
                              DynamicStruct::Builder parent,
                              StructSchema::Field field, size_t column_offset,
                              const text_limits& limits) {
  source src{text, column_offset};
  auto tokens = tokenize(src, limits);
  if (!tokens)
    return std::move(tokens).error();
  syntax parser(src, *tokens, limits);
  auto tree
    = parser.value(fmt::format(" for '{}'", field.getProto().getName().cStr()));
  if (!tree)
    return std::move(tree).error();
  if (parser.peek().kind != tok::end)
    return src.error(
      parser.peek().pos,
      fmt::format("unexpected {} after the value", describe(parser.peek())));
  try {
    return applier(src).set_field(*tree, parent, field);
  } catch (const kj::Exception& e) {
    return unexpected_exception(e);
  }
}

// ---------------------------------------------------------------------------
// Type names

std::string type_name(Type type) {
  switch (type.which()) {
  case Which::VOID:
    return "Void";
  case Which::BOOL:
    return "Bool";
  case Which::INT8:
    return "Int8";
  case Which::INT16:
    return "Int16";
  case Which::INT32:
    return "Int32";
  case Which::INT64:
    return "Int64";
  case Which::UINT8:
    return "UInt8";
  case Which::UINT16:
    return "UInt16";
  case Which::UINT32:
    return "UInt32";
  case Which::UINT64:
    return "UInt64";
  case Which::FLOAT32:
    return "Float32";
  case Which::FLOAT64:
    return "Float64";
  case Which::TEXT:
    return "Text";
  case Which::DATA:
    return "Data";
  case Which::LIST:
    return "List(" + type_name(type.asList().getElementType()) + ")";
  case Which::ENUM:
    return type.asEnum().getShortDisplayName().cStr();
  case Which::STRUCT:
    return type.asStruct().getShortDisplayName().cStr();
  case Which::INTERFACE:
    return type.asInterface().getShortDisplayName().cStr();
  case Which::ANY_POINTER:
    return "AnyPointer";
  }
  return "?";
}

std::string field_names(StructSchema schema) {
  std::string out;
  for (auto f : schema.getFields())
    out += (out.empty() ? "" : ", ") + std::string(f.getProto().getName());
  return out;
}

} // namespace skep::console
