#include "structured/json_schema_converter.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <boost/json.hpp>
#include <limits>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/log.h"
#include "structured/ebnf_text.h"
#include "structured/json_schema_numbers.h"
#include "structured/json_schema_strings.h"
#include "structured/regex_to_ebnf.h"

namespace podserve::structured {
namespace {

namespace json = boost::json;

constexpr int kMaxVisitDepth = 256;              // subschemas inside subschemas, $ref chains included
constexpr size_t kMaxRules = 100000;             // a grammar larger than this is a hostile schema
constexpr size_t kMaxCountStates = 20000;        // properties x (maxProperties + 1) states
constexpr size_t kMaxExcludedKeyBytes = 4096;    // declared names beside additionalProperties
constexpr int64_t kUnbounded = -1;

constexpr const char* kWs = "[ \\n\\r\\t]*";
const char* const kIgnoredKeywords[] = {"not", "if", "then", "else", "dependentRequired", "dependentSchemas",
                                        "uniqueItems", "contains", "minContains", "maxContains", "multipleOf"};

std::string alternatives(const std::vector<std::string>& alts) {
  std::string out;
  for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + std::string("(") + alts[i] + ")";
  return out;
}

std::string join(std::initializer_list<std::string> parts) {
  std::string out;
  for (const std::string& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += ' ';
    out += p;
  }
  return out;
}

std::string repeat(const std::string& element, int64_t lo, int64_t hi) {
  if (hi == 0) return "";
  if (lo == 0 && hi == kUnbounded) return "(" + element + ")*";
  if (hi == kUnbounded) return "(" + element + "){" + std::to_string(lo) + ",}";
  if (lo == hi) return "(" + element + "){" + std::to_string(lo) + "}";
  return "(" + element + "){" + std::to_string(lo) + "," + std::to_string(hi) + "}";
}

// Rule names: letters, digits and '_' only.
std::string sanitize(std::string_view text) {
  std::string out;
  for (const char c : text) out.push_back((std::isalnum(static_cast<unsigned char>(c)) != 0) ? c : '_');
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0])) != 0) out = "r_" + out;
  return out;
}

class Converter {
 public:
  Converter(const json::value& root, const JsonSchemaOptions& options) : root_(root), options_(options) {
    if (!options_.any_whitespace) {
      item_sep_ = options_.indent ? "," : ", ";
      key_sep_ = ": ";
      if (options_.separators) std::tie(item_sep_, key_sep_) = *options_.separators;
    }
  }

  Result<std::string> run() {
    reserve("root");
    ref_rules_[&root_] = "root";
    unconsumed_refs_.push_back(&root_);  // `"$ref": "#"` before any input would loop
    PODSERVE_ASSIGN_OR_RETURN(std::string element, visit(root_, "root", 0));
    define("root", element);
    std::string out;
    // root first, then the rest in creation order.
    for (const auto& [name, body] : rules_) {
      if (name == "root") out += name + " ::= " + body + "\n";
    }
    for (const auto& [name, body] : rules_) {
      if (name != "root") out += name + " ::= " + body + "\n";
    }
    return out;
  }

 private:
  // ---- rules ----
  std::string reserve(const std::string& hint) {
    std::string name = sanitize(hint);
    if (index_.count(name)) {
      int& n = next_suffix_[name];  // per hint, so many rules with one hint stay linear
      const std::string base = name;
      do name = base + "_" + std::to_string(++n);
      while (index_.count(name));
    }
    index_[name] = rules_.size();
    rules_.emplace_back(name, "");
    return name;
  }
  void define(const std::string& name, std::string body) { rules_[index_.at(name)].second = std::move(body); }
  std::string add(const std::string& hint, std::string body) {
    std::string name = reserve(hint);
    define(name, std::move(body));
    return name;
  }
  Status check_size() const {
    if (rules_.size() > kMaxRules) {
      return invalid_argument("the schema needs more than " + std::to_string(kMaxRules) + " grammar rules");
    }
    return ok_status();
  }

  // ---- whitespace ----
  std::string indent_text(int levels) const {
    return std::string(static_cast<size_t>(std::max(0, levels * options_.indent.value_or(0))), ' ');
  }
  std::string open(int depth) const {
    if (options_.any_whitespace) return kWs;
    if (options_.indent) return ebnf_literal("\n" + indent_text(depth + 1));
    return "";
  }
  std::string close(int depth) const {
    if (options_.any_whitespace) return kWs;
    if (options_.indent) return ebnf_literal("\n" + indent_text(depth));
    return "";
  }
  std::string item_sep(int depth) const {
    if (options_.any_whitespace) return std::string(kWs) + " \",\" " + kWs;
    if (options_.indent) return ebnf_literal(item_sep_ + "\n" + indent_text(depth + 1));
    return ebnf_literal(item_sep_);
  }
  // Unconstrained arrays/objects: xgrammar 0.2.8 writes them on one line with ", " between items whatever
  // the separators and indent (its issue 945: vLLM's disable_any_whitespace still gets a space there).
  std::string basic_item_sep() const {
    if (options_.any_whitespace) return item_sep(0);
    return ebnf_literal(", ");
  }
  std::string basic_ws() const { return options_.any_whitespace ? kWs : ""; }
  std::string key_sep() const {
    if (options_.any_whitespace) return std::string(kWs) + " \":\" " + kWs;
    return ebnf_literal(key_sep_);
  }
  std::string empty_container(const char* open_close) const {
    const std::string open_lit = ebnf_literal(std::string(1, open_close[0]));
    const std::string close_lit = ebnf_literal(std::string(1, open_close[1]));
    return join({open_lit, options_.any_whitespace ? kWs : "", close_lit});
  }

  // ---- basic (unconstrained) values ----
  std::string basic(const std::string& kind) {
    const std::string name = "basic_" + kind;
    if (index_.count(name)) return name;
    reserve(name);
    std::string body;
    if (kind == "escape") {
      body = "[\"\\\\/bfnrt] | \"u\" [A-Fa-f0-9]{4}";
    } else if (kind == "string_sub") {  // string content and the closing quote
      body = "([^\\x00-\\x1f\"\\\\] | \"\\\\\" " + basic("escape") + ")* \"\\\"\"";
    } else if (kind == "string") {
      body = "\"\\\"\" " + basic("string_sub");
    } else if (kind == "integer") {
      body = "\"0\" | \"-\"? [1-9] [0-9]*";
    } else if (kind == "number") {
      body = "\"-\"? (\"0\" | [1-9] [0-9]*) (\".\" [0-9]+)? ([eE] [+\\-]? [0-9]+)?";
    } else if (kind == "boolean") {
      body = "\"true\" | \"false\"";
    } else if (kind == "null") {
      body = "\"null\"";
    } else if (kind == "array") {
      const std::string any = basic("any");
      body = alternatives({join({"\"[\"", basic_ws(), any, repeat(basic_item_sep() + " " + any, 0, kUnbounded),
                                 basic_ws(), "\"]\""}),
                           empty_container("[]")});
    } else if (kind == "object") {
      const std::string entry = join({basic("string"), key_sep(), basic("any")});
      body = alternatives({join({"\"{\"", basic_ws(), entry, repeat(basic_item_sep() + " " + entry, 0, kUnbounded),
                                 basic_ws(), "\"}\""}),
                           empty_container("{}")});
    } else {  // any
      body = "basic_number | basic_string | basic_boolean | basic_null | basic_array | basic_object";
      define(name, body);
      for (const char* k : {"number", "string", "boolean", "null", "array", "object"}) basic(k);
      return name;
    }
    define(name, body);
    return name;
  }

  // ---- schemas ----
  Result<std::string> visit(const json::value& schema, const std::string& hint, int depth) {
    if (++visit_depth_ > kMaxVisitDepth) {
      return invalid_argument("the schema nests subschemas (through $ref) more than " +
                              std::to_string(kMaxVisitDepth) + " levels deep");
    }
    PODSERVE_RETURN_IF_ERROR(check_size());
    Result<std::string> out = visit_inner(schema, hint, depth);
    --visit_depth_;
    return out;
  }

  Result<std::string> visit_inner(const json::value& schema, const std::string& hint, int depth) {
    if (schema.is_bool()) {
      if (schema.get_bool()) return basic("any");
      return invalid_argument("Schema 'false' cannot accept any value");
    }
    if (!schema.is_object()) return invalid_argument("Schema should be an object or bool");
    const json::object& obj = schema.get_object();
    for (const char* k : kIgnoredKeywords) {
      if (obj.contains(k)) PODSERVE_LOG(kWarning) << "json schema: '" << k << "' is not enforced (as xgrammar)";
    }
    if (const json::value* ref = obj.if_contains("$ref")) return visit_ref(*ref, depth);
    if (const json::value* c = obj.if_contains("const")) return add(hint, ebnf_literal(json_compact(*c)));
    if (const json::value* e = obj.if_contains("enum")) {
      if (!e->is_array() || e->get_array().empty()) return invalid_argument("enum must be a non-empty array");
      std::vector<std::string> alts;
      for (const auto& v : e->get_array()) alts.push_back(ebnf_literal(json_compact(v)));
      return add(hint, alternatives(alts));
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      const json::value* branches = obj.if_contains(key);
      if (!branches) continue;
      if (!branches->is_array() || branches->get_array().empty()) {
        return invalid_argument(std::string(key) + " must be a non-empty array");
      }
      if (std::string_view(key) == "oneOf") {
        PODSERVE_LOG(kWarning) << "json schema: oneOf is enforced as anyOf (as xgrammar)";
      }
      const std::string name = reserve(hint);
      std::vector<std::string> alts;
      for (size_t i = 0; i < branches->get_array().size(); ++i) {
        PODSERVE_ASSIGN_OR_RETURN(std::string alt,
                                  visit(branches->get_array()[i], hint + "_case_" + std::to_string(i), depth));
        alts.push_back(alt);
      }
      define(name, alternatives(alts));
      return name;
    }
    if (const json::value* all = obj.if_contains("allOf")) {
      if (!all->is_array()) return invalid_argument("allOf must be an array");
      if (all->get_array().size() > 1) return invalid_argument("allOf with more than one schema is not supported");
      if (all->get_array().size() == 1) return visit(all->get_array()[0], hint, depth);
    }
    const json::value* type = obj.if_contains("type");
    if (type && type->is_array()) {
      const std::string name = reserve(hint);
      std::vector<std::string> alts;
      json::object single = obj;
      for (size_t i = 0; i < type->get_array().size(); ++i) {
        single["type"] = type->get_array()[i];
        PODSERVE_ASSIGN_OR_RETURN(std::string alt,
                                  visit(json::value(single), hint + "_type_" + std::to_string(i), depth));
        alts.push_back(alt);
      }
      if (alts.empty()) return invalid_argument("type must not be an empty array");
      define(name, alternatives(alts));
      return name;
    }
    std::string type_name;
    if (type) {
      if (!type->is_string()) return invalid_argument("type must be a string or an array of strings");
      type_name = std::string(type->get_string());
    } else if (obj.contains("properties") || obj.contains("patternProperties") || obj.contains("propertyNames") ||
               obj.contains("additionalProperties")) {
      type_name = "object";
    } else if (obj.contains("items") || obj.contains("prefixItems") || obj.contains("unevaluatedItems")) {
      type_name = "array";
    } else {
      return basic("any");
    }
    if (type_name == "null" || type_name == "boolean") return basic(type_name);
    if (type_name == "integer" || type_name == "number") return visit_number(obj, hint, type_name == "integer");
    if (type_name == "string") return visit_string(obj, hint);
    if (type_name == "array") return visit_array(obj, hint, depth);
    if (type_name == "object") return visit_object(obj, hint, depth);
    return invalid_argument("Unsupported type \"" + type_name + "\"");
  }

  Result<std::string> visit_ref(const json::value& ref_value, int depth) {
    if (!ref_value.is_string()) return invalid_argument("$ref must be a string");
    const std::string ref(ref_value.get_string());
    if (ref != "#" && ref.rfind("#/", 0) != 0) {
      PODSERVE_LOG(kWarning) << "json schema: $ref '" << ref << "' is not local; any value allowed (as xgrammar)";
      return basic("any");
    }
    const json::value* target = &root_;
    std::string hint;
    size_t pos = 1;
    while (pos < ref.size()) {
      const size_t next = std::min(ref.find('/', pos + 1), ref.size());
      std::string segment = ref.substr(pos + 1, next - pos - 1);
      for (size_t i = 0; (i = segment.find('~', i)) != std::string::npos; ++i) {
        if (i + 1 < segment.size() && segment[i + 1] == '1') segment.replace(i, 2, "/");
        else if (i + 1 < segment.size() && segment[i + 1] == '0') segment.replace(i, 2, "~");
      }
      const json::value* child = nullptr;
      if (target->is_object()) child = target->get_object().if_contains(segment);
      if (target->is_array()) {
        char* end = nullptr;
        const unsigned long index = std::strtoul(segment.c_str(), &end, 10);
        if (!segment.empty() && *end == '\0' && index < target->get_array().size()) child = &target->get_array()[index];
      }
      if (!child) return invalid_argument("Cannot find field " + segment + " in " + ref);
      target = child;
      hint += (hint.empty() ? "" : "_") + (segment == "$defs" ? std::string("defs") : segment);
      pos = next;
    }
    // A $ref reached again before any input is consumed would loop forever: reject it.
    if (std::find(unconsumed_refs_.begin(), unconsumed_refs_.end(), target) != unconsumed_refs_.end()) {
      return invalid_argument("$ref cycle that matches no input: " + ref);
    }
    if (const auto it = ref_rules_.find(target); it != ref_rules_.end()) return it->second;
    const std::string name = reserve(hint.empty() ? "root_ref" : hint);
    ref_rules_[target] = name;
    unconsumed_refs_.push_back(target);
    Result<std::string> body = visit(*target, name + "_body", depth);
    unconsumed_refs_.pop_back();
    if (!body.ok()) return body.status();
    define(name, *body);
    return name;
  }

  // A subschema inside an array or object: input is consumed before it, so $ref loops there are fine.
  Result<std::string> visit_nested(const json::value& schema, const std::string& hint, int depth) {
    std::vector<const json::value*> saved;
    saved.swap(unconsumed_refs_);
    Result<std::string> out = visit(schema, hint, depth);
    unconsumed_refs_.swap(saved);
    return out;
  }

  Result<std::optional<NumericBound>> bound(const json::object& obj, const char* inclusive, const char* exclusive,
                                            bool is_min) {
    std::optional<NumericBound> out;
    for (const char* key : {inclusive, exclusive}) {
      const json::value* v = obj.if_contains(key);
      if (!v) continue;
      if (!v->is_number()) return invalid_argument("Value must be a number");
      const NumericBound b{v->to_number<double>(), key == exclusive};
      const bool tighter = !out || (is_min ? (b.value > out->value || (b.value == out->value && b.exclusive))
                                           : (b.value < out->value || (b.value == out->value && b.exclusive)));
      if (tighter) out = b;
    }
    return out;
  }

  Result<std::string> visit_number(const json::object& obj, const std::string& hint, bool integer) {
    PODSERVE_ASSIGN_OR_RETURN(auto min, bound(obj, "minimum", "exclusiveMinimum", true));
    PODSERVE_ASSIGN_OR_RETURN(auto max, bound(obj, "maximum", "exclusiveMaximum", false));
    if (!min && !max) return basic(integer ? "integer" : "number");
    Result<std::string> body = integer ? integer_range_ebnf(min, max) : number_range_ebnf(min, max);
    if (!body.ok()) return body.status();
    return add(hint, *body);
  }

  Result<std::optional<int64_t>> count(const json::object& obj, const char* key) {
    const json::value* v = obj.if_contains(key);
    if (!v) return std::optional<int64_t>();
    if (!v->is_number() || v->to_number<double>() < 0 || v->to_number<double>() != std::floor(v->to_number<double>()) ||
        v->to_number<double>() > 1e15) {
      return invalid_argument(std::string(key) + " must be a non-negative integer");
    }
    return std::optional<int64_t>(static_cast<int64_t>(v->to_number<double>()));
  }

  Result<std::string> visit_string(const json::object& obj, const std::string& hint) {
    const std::string quote = "\"\\\"\"";
    if (const json::value* f = obj.if_contains("format"); f && f->is_string() && is_supported_format(f->get_string())) {
      PODSERVE_ASSIGN_OR_RETURN(std::string body, format_body_ebnf(f->get_string()));
      return add(hint, join({quote, "(" + body + ")", quote}));
    }
    if (const json::value* p = obj.if_contains("pattern")) {
      if (!p->is_string()) return invalid_argument("pattern must be a string");
      RegexOptions regex_options;
      regex_options.json_string = true;
      Result<std::string> body = regex_to_ebnf_expr(std::string_view(p->get_string()), regex_options);
      if (!body.ok()) return invalid_argument("Invalid pattern: " + body.status().message());
      return add(hint, join({quote, "(" + *body + ")", quote}));
    }
    if (obj.contains("format")) PODSERVE_LOG(kWarning) << "json schema: unsupported format is not enforced";
    PODSERVE_ASSIGN_OR_RETURN(auto min_len, count(obj, "minLength"));
    PODSERVE_ASSIGN_OR_RETURN(auto max_len, count(obj, "maxLength"));
    if (!min_len && !max_len) return basic("string");
    const int64_t lo = min_len.value_or(0), hi = max_len.value_or(kUnbounded);
    if (hi != kUnbounded && lo > hi) {
      return invalid_argument("minLength is greater than maxLength: " + std::to_string(lo) + " > " + std::to_string(hi));
    }
    // xgrammar's length-bounded strings: raw characters other than `"`, `\`, CR and LF, no escapes.
    const std::string chars = "[^\"\\\\\\r\\n]";
    std::string body = hi == kUnbounded ? chars + "{" + std::to_string(lo) + ",}"
                                        : chars + "{" + std::to_string(lo) + "," + std::to_string(hi) + "}";
    return add(hint, join({quote, body, quote}));
  }

  Result<std::string> visit_array(const json::object& obj, const std::string& hint, int depth) {
    std::vector<const json::value*> prefix;
    const json::value* items = obj.if_contains("items");
    if (const json::value* p = obj.if_contains("prefixItems")) {
      if (!p->is_array()) return invalid_argument("prefixItems must be an array");
      for (const auto& e : p->get_array()) prefix.push_back(&e);
    }
    const json::value* additional = items ? items : obj.if_contains("unevaluatedItems");
    PODSERVE_ASSIGN_OR_RETURN(auto min_items, count(obj, "minItems"));
    PODSERVE_ASSIGN_OR_RETURN(auto max_items, count(obj, "maxItems"));
    if (prefix.empty() && !additional && !min_items && !max_items && !obj.contains("prefixItems")) {
      return basic("array");
    }
    const json::value any_value(true);
    if (!additional && !options_.strict_mode) additional = &any_value;
    if (additional && additional->is_bool() && !additional->get_bool()) additional = nullptr;
    const int64_t k = static_cast<int64_t>(prefix.size());
    const int64_t lo = min_items.value_or(0);
    int64_t hi = max_items.value_or(kUnbounded);
    if (hi != kUnbounded && lo > hi) {
      return invalid_argument("minItems is greater than maxItems: " + std::to_string(lo) + " > " + std::to_string(hi));
    }
    if (!additional && (hi == kUnbounded || hi > k)) hi = k;
    if (hi != kUnbounded && lo > hi) {
      return invalid_argument("minItems is greater than the number of prefixItems, but additional items are not "
                              "allowed: " + std::to_string(lo) + " > " + std::to_string(hi));
    }
    const std::string name = reserve(hint);
    std::vector<std::string> item_rules;
    for (size_t i = 0; i < prefix.size() && (hi == kUnbounded || static_cast<int64_t>(i) < hi); ++i) {
      PODSERVE_ASSIGN_OR_RETURN(std::string r, visit_nested(*prefix[i], hint + "_item_" + std::to_string(i), depth + 1));
      item_rules.push_back(r);
    }
    std::string extra;
    if (additional && (hi == kUnbounded || hi > k)) {
      PODSERVE_ASSIGN_OR_RETURN(extra, visit_nested(*additional, hint + "_additional", depth + 1));
    }
    const std::string sep = item_sep(depth);
    // Items after the prefix: (sep extra){a_lo, a_hi}.
    auto extra_tail = [&](int64_t emitted) {
      if (extra.empty()) return std::string();
      const int64_t a_lo = std::max<int64_t>(0, lo - emitted);
      const int64_t a_hi = hi == kUnbounded ? kUnbounded : hi - emitted;
      return repeat(sep + " " + extra, a_lo, a_hi);
    };
    // tail(i): what may follow once i >= 1 items are out (i < k: next prefix item, or stop if allowed).
    std::string tail = extra_tail(k);
    for (int64_t i = static_cast<int64_t>(item_rules.size()) - 1; i >= 1; --i) {
      const std::string take = join({sep, item_rules[static_cast<size_t>(i)], tail});
      tail = i >= lo ? "(\"\" | " + take + ")" : take;
      tail = add(hint + "_suffix_" + std::to_string(i), tail);
    }
    std::string first;
    if (!item_rules.empty()) {
      first = join({item_rules[0], item_rules.size() > 1 ? tail : extra_tail(1)});
    } else {
      first = join({extra, repeat(sep + " " + extra, std::max<int64_t>(0, lo - 1),
                                  hi == kUnbounded ? kUnbounded : hi - 1)});
    }
    std::vector<std::string> alts;
    if (hi != 0 && !item_rules.empty() && lo == 0) {
      // xgrammar keeps the empty prefix inside the brackets: "[" open "" close "]" (differs with indent only).
      alts.push_back(join({"\"[\"", open(depth), "(\"\" | " + first + ")", close(depth), "\"]\""}));
    } else {
      if (hi != 0) alts.push_back(join({"\"[\"", open(depth), first, close(depth), "\"]\""}));
      if (lo == 0) alts.push_back(empty_container("[]"));
    }
    define(name, alternatives(alts));
    return name;
  }

  Result<std::string> visit_object(const json::object& obj, const std::string& hint, int depth);
  Result<std::string> visit_keyed_object(const json::object& obj, const std::string& hint, int depth);

  const json::value& root_;
  JsonSchemaOptions options_;
  std::string item_sep_, key_sep_;
  std::vector<std::pair<std::string, std::string>> rules_;
  std::unordered_map<std::string, size_t> index_;
  std::unordered_map<std::string, int> next_suffix_;
  std::unordered_map<const json::value*, std::string> ref_rules_;
  std::vector<const json::value*> unconsumed_refs_;
  int visit_depth_ = 0;
};

// Objects with `properties` (declared order; required ones mandatory), then additional properties
// whose keys differ from the declared names, with min/maxProperties counted along the way.
Result<std::string> Converter::visit_object(const json::object& obj, const std::string& hint, int depth) {
  if (obj.contains("patternProperties") || obj.contains("propertyNames")) return visit_keyed_object(obj, hint, depth);
  static const char* const kObjectKeys[] = {"properties", "additionalProperties", "unevaluatedProperties",
                                            "required", "minProperties", "maxProperties"};
  if (std::none_of(std::begin(kObjectKeys), std::end(kObjectKeys), [&](const char* k) { return obj.contains(k); })) {
    return basic("object");
  }
  struct Property {
    std::string key_literal;  // the quoted key, as EBNF
    std::string raw;          // the key's JSON text between the quotes
    const json::value* schema;
    bool required;
  };
  std::vector<Property> props;
  std::unordered_set<std::string_view> required_names;
  if (const json::value* r = obj.if_contains("required"); r && r->is_array()) {
    for (const auto& e : r->get_array())
      if (e.is_string()) required_names.insert(std::string_view(e.get_string()));
  }
  if (const json::value* p = obj.if_contains("properties")) {
    if (!p->is_object()) return invalid_argument("properties must be an object");
    for (const auto& kv : p->get_object()) {
      const std::string quoted = json_compact(json::value(kv.key()));
      const bool required = required_names.count(std::string_view(kv.key())) > 0;
      props.push_back({ebnf_literal(quoted), quoted.substr(1, quoted.size() - 2), &kv.value(), required});
    }
  }
  const json::value any_value(true);
  const json::value* additional = obj.if_contains("additionalProperties");
  if (!additional) additional = obj.if_contains("unevaluatedProperties");
  if (!additional && !options_.strict_mode) additional = &any_value;
  if (additional && additional->is_bool() && !additional->get_bool()) additional = nullptr;
  PODSERVE_ASSIGN_OR_RETURN(auto min_props, count(obj, "minProperties"));
  PODSERVE_ASSIGN_OR_RETURN(auto max_props, count(obj, "maxProperties"));
  const int64_t lo = min_props.value_or(0);
  const int64_t hi = max_props.value_or(kUnbounded);
  const int64_t n = static_cast<int64_t>(props.size());
  if (hi != kUnbounded && lo > hi) {
    return invalid_argument("minProperties is greater than maxProperties: " + std::to_string(lo) + " > " +
                            std::to_string(hi));
  }
  if (!additional && lo > n) {
    return invalid_argument("minProperties is greater than the number of properties, but additional properties "
                            "aren't allowed: " + std::to_string(lo) + " > " + std::to_string(n));
  }
  const bool counting = min_props || max_props;
  // Counts past the number of properties never matter: additional properties are counted by repetition.
  const int64_t count_cap = counting ? std::min<int64_t>(n, hi == kUnbounded ? n : hi) : 0;
  if (counting && static_cast<size_t>((n + 1) * (count_cap + 1)) > kMaxCountStates) {
    return invalid_argument("too many properties for minProperties/maxProperties");
  }

  const std::string name = reserve(hint);
  std::vector<std::string> values;
  for (size_t i = 0; i < props.size(); ++i) {
    PODSERVE_ASSIGN_OR_RETURN(std::string v, visit_nested(*props[i].schema, hint + "_prop_" + std::to_string(i), depth + 1));
    values.push_back(v);
  }
  std::string extra_entry;
  if (additional) {
    PODSERVE_ASSIGN_OR_RETURN(std::string value, visit_nested(*additional, hint + "_addl", depth + 1));
    std::string key = basic("string");
    if (!props.empty()) {
      std::vector<std::string> raws;
      for (const Property& p : props) {
        // The key grammar follows each name character by character (one nested rule per character).
        if (p.raw.size() > kMaxExcludedKeyBytes) {
          return invalid_argument("a property name is longer than " + std::to_string(kMaxExcludedKeyBytes) +
                                  " bytes");
        }
        raws.push_back(p.raw);
      }
      const std::string rest = excluded_key_rules(
          raws, hint + "_addl_key", basic("string_sub"), basic("escape"),
          [this](const std::string& h, const std::string& body) { return add(h, body); });
      key = add(hint + "_addl_key", "\"\\\"\" " + rest);
    }
    extra_entry = join({key, key_sep(), value});
  }
  const std::string sep = item_sep(depth);

  // state(i, k, first): properties i.. still to decide, k emitted so far (counted only with min/max),
  // first = nothing emitted yet (then nothing may be emitted only if the object is empty, handled apart).
  // Returns the EBNF for that state, or nullopt when no valid ending is reachable.
  // Built from the last property backwards, so the work is iterative and linear in the states.
  const int64_t ks = count_cap + 1;
  std::vector<std::optional<std::string>> states(static_cast<size_t>((n + 1) * ks * 2));
  const auto state = [&](int64_t i, int64_t k, bool first) -> std::optional<std::string>& {
    return states[static_cast<size_t>((i * ks + k) * 2 + (first ? 1 : 0))];
  };
  for (int64_t i = n; i >= 0; --i) {
    for (int64_t k = 0; k < ks; ++k) {
      for (const bool first : {false, true}) {
        if (first && k != 0) continue;
        std::vector<std::string> alts;
        bool can_stop = false;
        if (i < n) {
          const Property& p = props[static_cast<size_t>(i)];
          const int64_t next_k = counting ? k + 1 : 0;
          if ((hi == kUnbounded || k + 1 <= hi) && next_k < ks) {
            if (const auto& rest = state(i + 1, next_k, false)) {
              alts.push_back(join({first ? "" : sep, p.key_literal, key_sep(), values[static_cast<size_t>(i)], *rest}));
            }
          }
          if (!p.required) {
            if (const auto& rest = state(i + 1, k, first)) {
              if (rest->empty()) can_stop = true;
              else alts.push_back(*rest);
            }
          }
        } else {
          const int64_t a_lo = counting ? std::max<int64_t>(0, lo - k) : 0;
          const int64_t a_hi = !counting || hi == kUnbounded ? kUnbounded : hi - k;
          if (!extra_entry.empty() && a_hi != 0) {
            if (first) {
              alts.push_back(join({extra_entry, repeat(sep + " " + extra_entry, std::max<int64_t>(0, a_lo - 1),
                                                       a_hi == kUnbounded ? kUnbounded : a_hi - 1)}));
            } else if (a_lo > 0) {
              alts.push_back(repeat(sep + " " + extra_entry, a_lo, a_hi));
            } else {
              const std::string more = repeat(sep + " " + extra_entry, 1, a_hi);
              if (!more.empty()) alts.push_back(more);
              can_stop = true;
            }
          } else if (!first && a_lo == 0) {
            can_stop = true;
          }
        }
        if (alts.empty() && can_stop) {
          state(i, k, first) = std::string();
        } else if (!alts.empty()) {
          if (can_stop) alts.insert(alts.begin(), "\"\"");
          // A rule per state keeps each body short (inlining would copy the whole tail into every state).
          state(i, k, first) = alts.size() == 1 && alts[0].size() < 64
                                   ? alts[0]
                                   : add(hint + "_part_" + std::to_string(i), alternatives(alts));
        }
      }
    }
    PODSERVE_RETURN_IF_ERROR(check_size());
  }
  std::vector<std::string> alts;
  if (const auto& body = state(0, 0, true)) alts.push_back(join({"\"{\"", open(depth), *body, close(depth), "\"}\""}));
  // The empty object: allowed when nothing is required and no minimum applies.
  const bool empty_ok = lo == 0 && std::none_of(props.begin(), props.end(), [](const Property& p) { return p.required; });
  if (empty_ok) alts.push_back(empty_container("{}"));
  if (alts.empty()) return invalid_argument("the object schema accepts no object");
  define(name, alternatives(alts));
  return name;
}

// Objects whose keys come from one patternProperties pattern or from propertyNames: any number of
// entries (within min/maxProperties), each key matching, each value matching its schema.
Result<std::string> Converter::visit_keyed_object(const json::object& obj, const std::string& hint, int depth) {
  std::string key, value;
  if (const json::value* pp = obj.if_contains("patternProperties")) {
    if (!pp->is_object() || pp->get_object().empty()) return invalid_argument("patternProperties must be an object");
    const auto& entry = *pp->get_object().begin();
    RegexOptions regex_options;
    regex_options.json_string = true;
    Result<std::string> pattern = regex_to_ebnf_expr(std::string_view(entry.key()), regex_options);
    if (!pattern.ok()) return invalid_argument("Invalid pattern: " + pattern.status().message());
    key = add(hint + "_key", "\"\\\"\" (" + *pattern + ") \"\\\"\"");
    PODSERVE_ASSIGN_OR_RETURN(value, visit_nested(entry.value(), hint + "_value", depth + 1));
  } else {
    const json::value& names = obj.at("propertyNames");
    json::value names_schema = names;
    if (names_schema.is_object() && !names_schema.get_object().contains("type")) {
      names_schema.get_object()["type"] = "string";
    }
    PODSERVE_ASSIGN_OR_RETURN(key, visit_nested(names_schema, hint + "_name", depth + 1));
    const json::value* additional = obj.if_contains("additionalProperties");
    const json::value any_value(true);
    if (!additional || additional->is_bool()) additional = &any_value;
    PODSERVE_ASSIGN_OR_RETURN(value, visit_nested(*additional, hint + "_value", depth + 1));
  }
  PODSERVE_ASSIGN_OR_RETURN(auto min_props, count(obj, "minProperties"));
  PODSERVE_ASSIGN_OR_RETURN(auto max_props, count(obj, "maxProperties"));
  const int64_t lo = min_props.value_or(0), hi = max_props.value_or(kUnbounded);
  if (hi != kUnbounded && lo > hi) {
    return invalid_argument("minProperties is greater than maxProperties: " + std::to_string(lo) + " > " +
                            std::to_string(hi));
  }
  // Each entry starts with the opening whitespace, also after a separator (as xgrammar: with indent, the
  // separator's newline and the entry's both appear).
  const std::string entry = join({open(depth), key, key_sep(), value});
  std::vector<std::string> alts;
  if (hi != 0) {
    const std::string more = repeat(item_sep(depth) + " " + entry, std::max<int64_t>(0, lo - 1),
                                     hi == kUnbounded ? kUnbounded : hi - 1);
    alts.push_back(join({"\"{\"", entry, more, close(depth), "\"}\""}));
  }
  if (lo == 0) alts.push_back(empty_container("{}"));
  return add(hint, alternatives(alts));
}

}  // namespace

Result<std::string> convert_json_schema(const json::value& schema, const JsonSchemaOptions& options) {
  return Converter(schema, options).run();
}

}  // namespace podserve::structured
