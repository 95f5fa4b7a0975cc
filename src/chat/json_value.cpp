#include "chat/json_value.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "chat/py_string.h"

namespace podserve {
namespace {

Result<jinja::Value> convert(const boost::json::value& json, int depth) {
  if (depth > jinja::kMaxValueDepth) return invalid_argument("JSON nested too deeply for a chat template");
  switch (json.kind()) {
    case boost::json::kind::null: return jinja::Value::none();
    case boost::json::kind::bool_: return jinja::Value(json.get_bool());
    case boost::json::kind::int64: return jinja::Value(json.get_int64());
    case boost::json::kind::uint64:
      if (json.get_uint64() > static_cast<uint64_t>(INT64_MAX)) return invalid_argument("JSON integer too large");
      return jinja::Value(static_cast<int64_t>(json.get_uint64()));
    case boost::json::kind::double_: return jinja::Value(json.get_double());
    case boost::json::kind::string: return jinja::Value(std::string(json.get_string()));
    case boost::json::kind::array: {
      jinja::Array items;
      items.reserve(json.get_array().size());
      for (const auto& item : json.get_array()) {
        PODSERVE_ASSIGN_OR_RETURN(jinja::Value v, convert(item, depth + 1));
        items.push_back(std::move(v));
      }
      return jinja::Value::array(std::move(items));
    }
    case boost::json::kind::object: {
      auto obj = std::make_shared<jinja::Object>();
      for (const auto& kv : json.get_object()) {
        PODSERVE_ASSIGN_OR_RETURN(jinja::Value v, convert(kv.value(), depth + 1));
        obj->set(std::string(kv.key()), std::move(v));
      }
      return jinja::Value::object(std::move(obj));
    }
  }
  return invalid_argument("unknown JSON value kind");
}

}  // namespace

Result<jinja::Value> value_from_json(const boost::json::value& json) { return convert(json, 0); }

namespace jinja {
namespace {

void append_string(std::string* out, std::string_view s, bool ensure_ascii) {
  out->push_back('"');
  char buf[16];
  auto escape_unit = [&](unsigned u) {
    std::snprintf(buf, sizeof buf, "\\u%04x", u);
    out->append(buf);
  };
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out->append("\\\""); continue;
      case '\\': out->append("\\\\"); continue;
      case '\n': out->append("\\n"); continue;
      case '\r': out->append("\\r"); continue;
      case '\t': out->append("\\t"); continue;
      case '\b': out->append("\\b"); continue;
      case '\f': out->append("\\f"); continue;
      default: break;
    }
    if (c < 0x20 || (ensure_ascii && c == 0x7F)) {
      escape_unit(c);
    } else if (c >= 0x80 && ensure_ascii) {
      size_t len = 1;
      while (i + len < s.size() && (static_cast<unsigned char>(s[i + len]) & 0xC0) == 0x80 && len < 4) ++len;
      const std::u32string cps = utf8_decode(s.substr(i, len));
      i += len - 1;
      for (char32_t cp : cps) {
        if (cp >= 0x10000) {  // UTF-16 surrogate pair, as json.dumps writes it
          escape_unit(0xD800 + ((cp - 0x10000) >> 10));
          escape_unit(0xDC00 + ((cp - 0x10000) & 0x3FF));
        } else {
          escape_unit(cp);
        }
      }
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

// json.dumps turns non-string keys into strings: True -> "true", None -> "null", numbers as repr() prints them.
std::string json_key(const Value& key) {
  if (key.is_bool()) return key.as_bool() ? "true" : "false";
  if (key.is_none()) return "null";
  return to_str(key);
}

Status dump(const Value& v, const JsonFormat& f, int level, std::string* out) {
  auto newline = [&](int lvl) {
    if (!f.indent) return;
    out->push_back('\n');
    for (int i = 0; i < lvl; ++i) out->append(*f.indent);
  };
  switch (v.kind()) {
    case Value::Kind::kNone: out->append("null"); return ok_status();
    case Value::Kind::kBool: out->append(v.as_bool() ? "true" : "false"); return ok_status();
    case Value::Kind::kInt: out->append(std::to_string(v.as_int())); return ok_status();
    case Value::Kind::kFloat: {
      const double d = v.as_float();
      if (std::isnan(d)) {
        out->append("NaN");
      } else if (std::isinf(d)) {
        out->append(d < 0 ? "-Infinity" : "Infinity");
      } else {
        out->append(format_float(d));
      }
      return ok_status();
    }
    case Value::Kind::kString: append_string(out, v.as_string(), f.ensure_ascii); return ok_status();
    case Value::Kind::kArray: {
      if (v.array_kind() == ArrayKind::kIterator) break;
      const Array& a = v.as_array();
      if (a.empty()) {
        out->append("[]");
        return ok_status();
      }
      out->push_back('[');
      for (size_t i = 0; i < a.size(); ++i) {
        if (i > 0) out->append(f.item_separator);
        newline(level + 1);
        PODSERVE_RETURN_IF_ERROR(dump(a[i], f, level + 1, out));
      }
      newline(level);
      out->push_back(']');
      return ok_status();
    }
    case Value::Kind::kObject: {
      const Object& o = v.as_object();
      if (o.kind != ObjectKind::kDict) break;
      if (o.entries.empty()) {
        out->append("{}");
        return ok_status();
      }
      std::vector<const std::pair<std::string, Value>*> entries;
      for (const auto& e : o.entries) entries.push_back(&e);
      if (f.sort_keys) {
        // Python sorts the keys themselves: ints numerically, and a mix of ints and strings is a TypeError.
        Status failure;
        std::stable_sort(entries.begin(), entries.end(), [&](auto* a, auto* b) {
          auto c = compare(dict_key_value(a->first), dict_key_value(b->first));
          if (!c.ok() && failure.ok()) failure = c.status();
          return c.ok() && *c < 0;
        });
        PODSERVE_RETURN_IF_ERROR(failure);
      }
      out->push_back('{');
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i > 0) out->append(f.item_separator);
        newline(level + 1);
        append_string(out, json_key(dict_key_value(entries[i]->first)), f.ensure_ascii);
        out->append(f.key_separator);
        PODSERVE_RETURN_IF_ERROR(dump(entries[i]->second, f, level + 1, out));
      }
      newline(level);
      out->push_back('}');
      return ok_status();
    }
    default: break;
  }
  return invalid_argument("Object of type " + type_name(v) + " is not JSON serializable");
}

}  // namespace

Result<std::string> to_json(const Value& value, const JsonFormat& format) {
  std::string out;
  PODSERVE_RETURN_IF_ERROR(dump(value, format, 0, &out));
  return out;
}

}  // namespace jinja
}  // namespace podserve
