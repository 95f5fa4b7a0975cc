#include "structured/structural_tag.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "structured/ebnf_parser.h"
#include "structured/json_schema.h"
#include "structured/regex_to_ebnf.h"

namespace podserve::structured {
namespace {

namespace json = boost::json;

constexpr int kMaxFormatDepth = 64;  // formats nest at most this deep (never unbounded recursion on input)
constexpr size_t kMaxDispatchStates = 20000;

Status invalid(const std::string& why) {
  return invalid_argument("Invalid structural tag specification. " + why);
}

/// xgrammar's TagDispatch: free text in which each trigger hands over to its group (after which the free text
/// resumes if `loop`, else the dispatch ends) and no excluded string appears; it may end anywhere.
struct Dispatch {
  std::vector<std::string> triggers;
  std::vector<GrammarExpr> groups;  // per trigger: what follows it
  std::vector<std::string> excludes;
  bool loop = true;
};

class Lowering {
 public:
  Result<Grammar> run(const json::value& top) {
    const json::object* o = top.if_object();
    if (o == nullptr) return invalid("A structural tag must be a JSON object");
    Result<GrammarExpr> root = invalid("");
    if (o->contains("structures")) {
      root = legacy(*o);
    } else {
      if (const json::value* t = o->if_contains("type"); t != nullptr && (!t->is_string() || *t != "structural_tag")) {
        return invalid("Structural tag's type must be a string \"structural_tag\"");
      }
      const json::value* f = o->if_contains("format");
      if (f == nullptr) return invalid("Structural tag must have a format field");
      root = lower(*f, {}, 0);
    }
    if (!root.ok()) return root.status();
    const int index = add_rule("root", std::move(root).value());
    g_.root = index;
    return std::move(g_);
  }

 private:
  Grammar g_;
  int sub_grammars_ = 0;

  int add_rule(const std::string& base, GrammarExpr body) {
    std::string name = base;
    for (int k = 1; g_.find_rule(name) >= 0; ++k) name = base + "_" + std::to_string(k);
    g_.rules.push_back(GrammarRule{name, std::move(body), std::nullopt});
    return static_cast<int>(g_.rules.size()) - 1;
  }

  static void offset_refs(GrammarExpr* e, int offset) {
    if (e->kind == GrammarExpr::Kind::kRuleRef) e->rule += offset;
    for (GrammarExpr& c : e->children) offset_refs(&c, offset);
  }

  /// Appends a separately built grammar's rules (renamed apart) and returns a reference to its root.
  GrammarExpr merge(Grammar sub) {
    const int offset = static_cast<int>(g_.rules.size());
    const std::string prefix = "g" + std::to_string(sub_grammars_++) + "_";
    for (GrammarRule& r : sub.rules) {
      offset_refs(&r.body, offset);
      if (r.lookahead) offset_refs(&*r.lookahead, offset);
      r.name = prefix + r.name;
      g_.rules.push_back(std::move(r));
    }
    return GrammarExpr::rule_ref(offset + sub.root);
  }

  static Result<std::string> string_field(const json::object& o, const char* key, const char* format) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr || !v->is_string()) {
      return invalid(std::string(format) + " format must have a " + key + " field with a string");
    }
    return std::string(v->get_string());
  }

  static Result<bool> bool_field(const json::object& o, const char* key, const char* format) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) return false;
    if (!v->is_bool()) return invalid(std::string(format) + "'s " + key + " must be a boolean");
    return v->get_bool();
  }

  static Result<std::vector<std::string>> strings_field(const json::object& o, const char* key, const char* format) {
    std::vector<std::string> out;
    const json::value* v = o.if_contains(key);
    if (v == nullptr) return out;
    if (!v->is_array()) return invalid(std::string(format) + "'s " + key + " must be a list of strings");
    for (const json::value& x : v->get_array()) {
      if (!x.is_string()) return invalid(std::string(format) + "'s " + key + " must be a list of strings");
      out.emplace_back(x.get_string());
    }
    return out;
  }

  static Status unsupported(const std::string& what) {
    return invalid(what + " is not supported by podserve yet");
  }

  /// `ends`: the end strings of the innermost enclosing tag, when this format finishes that tag's content (free
  /// text there stops before them, as xgrammar's analysis does).
  Result<GrammarExpr> lower(const json::value& v, const std::vector<std::string>& ends, int depth) {
    if (depth > kMaxFormatDepth) return invalid("formats nest too deeply");
    const json::object* o = v.if_object();
    if (o == nullptr) return invalid("A format must be a JSON object");
    const json::value* t = o->if_contains("type");
    if (t == nullptr || !t->is_string()) return invalid("A format must have a type field with a string");
    const std::string type(t->get_string());
    if (type == "const_string") {
      Result<std::string> value = string_field(*o, "value", "ConstString");
      if (!value.ok()) return value.status();
      return GrammarExpr::literal(std::move(value).value());
    }
    if (type == "json_schema") return json_schema(*o);
    if (type == "regex") {
      Result<std::string> pattern = string_field(*o, "pattern", "Regex");
      if (!pattern.ok()) return pattern.status();
      Result<std::string> ebnf = regex_to_ebnf(*pattern);
      if (!ebnf.ok()) return invalid(ebnf.status().message());
      Result<Grammar> sub = parse_ebnf(*ebnf);
      if (!sub.ok()) return invalid(sub.status().message());
      return merge(std::move(sub).value());
    }
    if (type == "grammar") {
      Result<std::string> text = string_field(*o, "grammar", "Grammar");
      if (!text.ok()) return text.status();
      Result<Grammar> sub = parse_ebnf(*text);
      if (!sub.ok()) return invalid(sub.status().message());
      return merge(std::move(sub).value());
    }
    if (type == "any_text") return any_text(*o, ends);
    if (type == "sequence" || type == "or") {
      const json::value* els = o->if_contains("elements");
      const char* name = type == "or" ? "Or" : "Sequence";
      if (els == nullptr || !els->is_array()) return invalid(std::string(name) + " format must have an elements list");
      if (els->get_array().empty()) return invalid(std::string(name) + " format must have at least one element");
      std::vector<GrammarExpr> parts;
      const json::array& a = els->get_array();
      for (size_t i = 0; i < a.size(); ++i) {
        // The tag's end bounds the free text of an `or`'s branches and of a sequence's last element.
        const bool last = type == "or" || i + 1 == a.size();
        Result<GrammarExpr> e = lower(a[i], last ? ends : std::vector<std::string>{}, depth + 1);
        if (!e.ok()) return e.status();
        parts.push_back(GrammarExpr::rule_ref(add_rule(type, std::move(e).value())));
      }
      return type == "or" ? GrammarExpr::choice(std::move(parts)) : GrammarExpr::sequence(std::move(parts));
    }
    if (type == "tag") return tag(v, depth);
    if (type == "triggered_tags") return triggered_tags(*o, ends, depth);
    if (type == "tags_with_separator") return tags_with_separator(*o, depth);
    static const std::set<std::string> known = {"qwen_xml_parameter", "token", "exclude_token", "any_tokens",
                                                "token_triggered_tags", "optional", "plus", "star",
                                                "repeat", "dispatch", "token_dispatch"};
    if (known.count(type) != 0) return unsupported("The '" + type + "' format");
    return invalid("Format type not recognized: " + type);
  }

  Result<GrammarExpr> json_schema(const json::object& o) {
    const json::value* schema = o.if_contains("json_schema");
    if (schema == nullptr || !(schema->is_object() || schema->is_bool())) {
      return invalid("JSON schema format must have a json_schema field with an object or a boolean");
    }
    if (const json::value* style = o.if_contains("style")) {
      if (!style->is_string()) return invalid("JSON schema format's style must be a string");
      if (*style != "json") return unsupported("The json_schema style '" + std::string(style->get_string()) + "'");
    }
    if (const json::value* x = o.if_contains("any_order"); x != nullptr && !(x->is_bool() && !x->get_bool())) {
      return unsupported("json_schema's any_order");
    }
    if (const json::value* x = o.if_contains("max_whitespace_cnt"); x != nullptr && !x->is_null()) {
      return unsupported("json_schema's max_whitespace_cnt");
    }
    if (const json::value* x = o.if_contains("excludes"); x != nullptr && !(x->is_array() && x->get_array().empty())) {
      return unsupported("json_schema's excludes");
    }
    Result<std::string> ebnf = json_schema_value_to_ebnf(*schema);
    if (!ebnf.ok()) return invalid(ebnf.status().message());
    Result<Grammar> sub = parse_ebnf(*ebnf);
    if (!sub.ok()) return invalid(sub.status().message());
    return merge(std::move(sub).value());
  }

  Result<GrammarExpr> any_text(const json::object& o, const std::vector<std::string>& ends) {
    Result<std::vector<std::string>> excludes = strings_field(o, "excludes", "AnyText");
    if (!excludes.ok()) return excludes.status();
    if (!excludes->empty()) return unsupported("any_text's excludes");
    for (const char* key : {"max_tokens", "max_chars"}) {
      if (const json::value* x = o.if_contains(key); x != nullptr && !x->is_null()) {
        return unsupported(std::string("any_text's ") + key);
      }
    }
    if (ends.empty()) {  // xgrammar: `[\0-\U0010ffff]*`
      return GrammarExpr::rule_ref(add_rule("any_text", GrammarExpr::repeat(GrammarExpr::char_class({}, true), 0, -1)));
    }
    Dispatch d;
    d.excludes = ends;
    d.loop = false;
    return dispatch(std::move(d), "any_text");
  }

  struct Tag {
    std::string begin;
    const json::value* content = nullptr;
    std::vector<std::string> ends;
  };

  static Result<Tag> read_tag(const json::value& v) {
    const json::object* o = v.if_object();
    if (o == nullptr) return invalid("A tag must be a JSON object");
    if (const json::value* t = o->if_contains("type"); t != nullptr && (!t->is_string() || *t != "tag")) {
      return invalid("Tag format's type must be \"tag\"");
    }
    Tag tag;
    const json::value* begin = o->if_contains("begin");
    if (begin != nullptr && begin->is_object()) return unsupported("A token as a tag's begin");
    if (begin == nullptr || !begin->is_string()) return invalid("Tag format must have a begin field with a string");
    tag.begin = std::string(begin->get_string());
    tag.content = o->if_contains("content");
    if (tag.content == nullptr) return invalid("Tag format must have a content field");
    const json::value* end = o->if_contains("end");
    if (end != nullptr && end->is_string()) {
      tag.ends.emplace_back(end->get_string());
    } else if (end != nullptr && end->is_array() && !end->get_array().empty()) {
      for (const json::value& e : end->get_array()) {
        if (!e.is_string()) return invalid("Tag format's end must be a string or a list of strings");
        tag.ends.emplace_back(e.get_string());
      }
    } else if (end != nullptr && end->is_object()) {
      return unsupported("A token as a tag's end");
    } else {
      return invalid("Tag format must have an end field with a string or a non-empty list of strings");
    }
    return tag;
  }

  /// begin content end, with `begin` cut by `skip` bytes (a trigger already read).
  Result<GrammarExpr> tag_body(const Tag& tag, size_t skip, int depth) {
    Result<GrammarExpr> content = lower(*tag.content, tag.ends, depth + 1);
    if (!content.ok()) return content.status();
    std::vector<GrammarExpr> end_choices;
    for (const std::string& e : tag.ends) end_choices.push_back(GrammarExpr::literal(e));
    GrammarExpr end = end_choices.size() == 1 ? std::move(end_choices[0])
                                              : GrammarExpr::rule_ref(add_rule("tag_end", GrammarExpr::choice(std::move(end_choices))));
    std::vector<GrammarExpr> parts;
    parts.push_back(GrammarExpr::literal(tag.begin.substr(skip)));
    parts.push_back(std::move(content).value());
    parts.push_back(std::move(end));
    return GrammarExpr::sequence(std::move(parts));
  }

  Result<GrammarExpr> tag(const json::value& v, int depth) {
    Result<Tag> t = read_tag(v);
    if (!t.ok()) return t.status();
    Result<GrammarExpr> body = tag_body(*t, 0, depth);
    if (!body.ok()) return body.status();
    return GrammarExpr::rule_ref(add_rule("tag", std::move(body).value()));
  }

  Result<std::vector<Tag>> read_tags(const json::object& o, const char* format) {
    const json::value* v = o.if_contains("tags");
    if (v == nullptr || !v->is_array()) return invalid(std::string(format) + " format must have a tags list");
    if (v->get_array().empty()) return invalid(std::string(format) + " format's tags must be non-empty");
    std::vector<Tag> tags;
    for (const json::value& x : v->get_array()) {
      Result<Tag> t = read_tag(x);
      if (!t.ok()) return t.status();
      tags.push_back(std::move(t).value());
    }
    return tags;
  }

  Result<GrammarExpr> triggered_tags(const json::object& o, const std::vector<std::string>& ends, int depth) {
    Result<std::vector<std::string>> triggers = strings_field(o, "triggers", "Triggered tags");
    if (!triggers.ok()) return triggers.status();
    if (triggers->empty()) return invalid("Triggered tags format's triggers must be non-empty");
    Result<std::vector<Tag>> tags = read_tags(o, "Triggered tags");
    if (!tags.ok()) return tags.status();
    Result<bool> at_least_one = bool_field(o, "at_least_one", "Triggered tags");
    Result<bool> stop_after_first = bool_field(o, "stop_after_first", "Triggered tags");
    Result<std::vector<std::string>> excludes = strings_field(o, "excludes", "Triggered tags");
    if (!at_least_one.ok()) return at_least_one.status();
    if (!stop_after_first.ok()) return stop_after_first.status();
    if (!excludes.ok()) return excludes.status();
    // Each tag belongs to the one trigger that begins it.
    std::vector<std::vector<GrammarExpr>> per_trigger(triggers->size());
    std::vector<GrammarExpr> whole;  // the tags from their first byte (at_least_one)
    for (const Tag& t : *tags) {
      int match = -1;
      for (size_t i = 0; i < triggers->size(); ++i) {
        if (t.begin.compare(0, (*triggers)[i].size(), (*triggers)[i]) != 0) continue;
        if (match >= 0) return invalid("One tag matches multiple triggers in a triggered tags format");
        match = static_cast<int>(i);
      }
      if (match < 0) return invalid("One tag does not match any trigger in a triggered tags format");
      Result<GrammarExpr> rest = tag_body(t, (*triggers)[match].size(), depth);
      if (!rest.ok()) return rest.status();
      per_trigger[match].push_back(std::move(rest).value());
      if (*at_least_one) {
        Result<GrammarExpr> full = tag_body(t, 0, depth);
        if (!full.ok()) return full.status();
        whole.push_back(std::move(full).value());
      }
    }
    if (*at_least_one && *stop_after_first) {
      return GrammarExpr::rule_ref(add_rule("triggered_tags", GrammarExpr::choice(std::move(whole))));
    }
    Dispatch d;
    for (size_t i = 0; i < triggers->size(); ++i) {
      if (per_trigger[i].empty()) continue;  // a trigger without tags never dispatches
      d.triggers.push_back((*triggers)[i]);
      d.groups.push_back(GrammarExpr::rule_ref(add_rule("triggered_tags_group", GrammarExpr::choice(std::move(per_trigger[i])))));
    }
    d.excludes = std::move(excludes).value();
    d.excludes.insert(d.excludes.end(), ends.begin(), ends.end());
    d.loop = !*stop_after_first;
    Result<GrammarExpr> free_text = dispatch(std::move(d), "triggered_tags");
    if (!free_text.ok() || !*at_least_one) return free_text;
    const int first = add_rule("triggered_tags_first", GrammarExpr::choice(std::move(whole)));
    return GrammarExpr::sequence({GrammarExpr::rule_ref(first), std::move(free_text).value()});
  }

  Result<GrammarExpr> tags_with_separator(const json::object& o, int depth) {
    Result<std::vector<Tag>> tags = read_tags(o, "Tags with separator");
    if (!tags.ok()) return tags.status();
    Result<std::string> separator = string_field(o, "separator", "Tags with separator");
    if (!separator.ok()) return separator.status();
    Result<bool> at_least_one = bool_field(o, "at_least_one", "Tags with separator");
    Result<bool> stop_after_first = bool_field(o, "stop_after_first", "Tags with separator");
    if (!at_least_one.ok()) return at_least_one.status();
    if (!stop_after_first.ok()) return stop_after_first.status();
    std::vector<GrammarExpr> alternatives;
    for (const Tag& t : *tags) {
      Result<GrammarExpr> body = tag_body(t, 0, depth);
      if (!body.ok()) return body.status();
      alternatives.push_back(GrammarExpr::rule_ref(add_rule("tag", std::move(body).value())));
    }
    const int one = add_rule("tags_with_separator_tags", GrammarExpr::choice(std::move(alternatives)));
    std::vector<GrammarExpr> some;  // one tag, then (separator tag)* unless stop_after_first
    some.push_back(GrammarExpr::rule_ref(one));
    if (!*stop_after_first) {
      const int sub = add_rule("tags_with_separator_sub", GrammarExpr::empty());
      g_.rules[sub].body = GrammarExpr::choice(
          {GrammarExpr::empty(), GrammarExpr::sequence({GrammarExpr::literal(*separator), GrammarExpr::rule_ref(one),
                                                        GrammarExpr::rule_ref(sub)})});
      some.push_back(GrammarExpr::rule_ref(sub));
    }
    GrammarExpr body = GrammarExpr::sequence(std::move(some));
    if (!*at_least_one) body = GrammarExpr::choice({GrammarExpr::empty(), std::move(body)});
    return GrammarExpr::rule_ref(add_rule("tags_with_separator", std::move(body)));
  }

  Result<GrammarExpr> legacy(const json::object& o) {
    // vLLM: xgr.StructuralTagItem(begin, schema=json.dumps(schema), end) per structure, then xgrammar's
    // from_legacy_structural_tag: triggered_tags over tags whose content is the schema.
    const json::value* structures = o.if_contains("structures");
    const json::value* triggers = o.if_contains("triggers");
    if (structures == nullptr || !structures->is_array() || triggers == nullptr || !triggers->is_array()) {
      return invalid("A legacy structural tag needs a structures list and a triggers list");
    }
    json::array tags;
    for (const json::value& s : structures->get_array()) {
      const json::object* so = s.if_object();
      if (so == nullptr || !so->contains("begin") || !so->contains("schema") || !so->contains("end")) {
        return invalid("Each structure needs begin, schema and end");
      }
      tags.push_back(json::object{{"type", "tag"},
                                  {"begin", so->at("begin")},
                                  {"content", json::object{{"type", "json_schema"}, {"json_schema", so->at("schema")}}},
                                  {"end", so->at("end")}});
    }
    json::object format{{"type", "triggered_tags"}, {"triggers", *triggers}, {"tags", std::move(tags)}};
    return lower(format, {}, 0);
  }

  std::map<std::set<unsigned char>, int> high_byte_rules_;

  /// A rule reading one byte in 0x80-0xFF outside `moving` (shared by states with the same set).
  GrammarExpr high_bytes_except(const std::set<unsigned char>& moving) {
    std::set<unsigned char> high;
    for (unsigned char c : moving) {
      if (c >= 0x80) high.insert(c);
    }
    auto it = high_byte_rules_.find(high);
    if (it == high_byte_rules_.end()) {
      std::vector<GrammarExpr> bytes;
      for (int b = 0x80; b <= 0xFF; ++b) {
        if (high.count(static_cast<unsigned char>(b)) == 0) bytes.push_back(GrammarExpr::literal(std::string(1, static_cast<char>(b))));
      }
      it = high_byte_rules_.emplace(high, add_rule("free_byte", GrammarExpr::choice(std::move(bytes)))).first;
    }
    return GrammarExpr::rule_ref(it->second);
  }

  /// One rule per state of the Aho-Corasick automaton over the triggers' and excludes' bytes. xgrammar's free
  /// text is bytes, not code points: any byte may follow (a lone UTF-8 continuation byte too), so the states
  /// read single bytes (ASCII through a class, the others as one-byte literals).
  Result<GrammarExpr> dispatch(Dispatch d, const std::string& name) {
    struct Node {
      std::map<unsigned char, int> next;
      int fail = 0;
      int trigger = -1;    // the trigger that ends here (or at a suffix)
      bool excluded = false;
    };
    std::vector<Node> nodes(1);
    auto insert = [&](const std::string& s, int trigger) {
      int n = 0;
      for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        auto it = nodes[n].next.find(c);
        if (it == nodes[n].next.end()) {
          nodes.push_back(Node{});
          it = nodes[n].next.emplace(c, static_cast<int>(nodes.size()) - 1).first;
        }
        n = it->second;
      }
      if (n == 0) return;  // an empty string never matches here
      if (trigger >= 0 && nodes[n].trigger < 0 && !nodes[n].excluded) nodes[n].trigger = trigger;
      if (trigger < 0 && nodes[n].trigger < 0) nodes[n].excluded = true;
    };
    for (size_t i = 0; i < d.triggers.size(); ++i) insert(d.triggers[i], static_cast<int>(i));
    for (const std::string& e : d.excludes) insert(e, -1);
    if (nodes.size() > kMaxDispatchStates) return invalid("too many trigger and exclude characters");
    // Failure links, breadth first; a node inherits what its longest proper suffix matched.
    std::vector<int> order{0};
    for (size_t k = 0; k < order.size(); ++k) {
      const int n = order[k];
      for (const auto& [c, child] : nodes[n].next) {
        if (n != 0) {
          int f = nodes[n].fail;
          while (f != 0 && nodes[f].next.count(c) == 0) f = nodes[f].fail;
          auto it = nodes[f].next.find(c);
          nodes[child].fail = it != nodes[f].next.end() && it->second != child ? it->second : 0;
        }
        const Node& f = nodes[nodes[child].fail];
        if (nodes[child].trigger < 0 && !nodes[child].excluded) {
          nodes[child].trigger = f.trigger;
          nodes[child].excluded = f.excluded;
        }
        order.push_back(child);
      }
    }
    auto step = [&](int n, unsigned char c) {
      while (true) {
        auto it = nodes[n].next.find(c);
        if (it != nodes[n].next.end()) return it->second;
        if (n == 0) return 0;
        n = nodes[n].fail;
      }
    };
    // Rules for the free-text states (nodes that matched nothing yet), filled in below.
    std::vector<int> rule_of(nodes.size(), -1);
    for (int n : order) {
      if (n == 0 || (nodes[n].trigger < 0 && !nodes[n].excluded)) rule_of[n] = add_rule(name, GrammarExpr::empty());
    }
    for (int n : order) {
      if (rule_of[n] < 0) continue;
      std::set<unsigned char> moving;  // bytes that lead somewhere other than the start state
      for (int f = n;; f = nodes[f].fail) {
        for (const auto& kv : nodes[f].next) moving.insert(kv.first);
        if (f == 0) break;
      }
      std::vector<GrammarExpr> alternatives{GrammarExpr::empty()};
      std::vector<CodepointRange> others{CodepointRange{0x80, 0x10FFFF}};  // the class reads ASCII only
      std::vector<GrammarExpr> high_bytes;
      for (unsigned char c : moving) {
        if (c < 0x80) others.push_back(CodepointRange{c, c});
        const int to = step(n, c);
        const Node& t = nodes[to];
        if (t.trigger >= 0) {
          std::vector<GrammarExpr> parts{GrammarExpr::literal(std::string(1, static_cast<char>(c))), d.groups[t.trigger]};
          if (d.loop) parts.push_back(GrammarExpr::rule_ref(rule_of[0]));
          alternatives.push_back(GrammarExpr::sequence(std::move(parts)));
        } else if (!t.excluded) {
          alternatives.push_back(GrammarExpr::sequence(
              {GrammarExpr::literal(std::string(1, static_cast<char>(c))), GrammarExpr::rule_ref(rule_of[to])}));
        }
      }
      std::vector<GrammarExpr> free_bytes{GrammarExpr::char_class(std::move(others), true)};
      free_bytes.push_back(high_bytes_except(moving));
      alternatives.push_back(GrammarExpr::sequence(
          {GrammarExpr::choice(std::move(free_bytes)), GrammarExpr::rule_ref(rule_of[0])}));
      g_.rules[rule_of[n]].body = GrammarExpr::choice(std::move(alternatives));
    }
    return GrammarExpr::rule_ref(rule_of[0]);
  }
};

}  // namespace

Result<Grammar> structural_tag_grammar(std::string_view spec) {
  boost::system::error_code ec;
  json::value v = json::parse(spec, ec);
  if (ec) return invalid("The structural tag is not valid JSON");
  return Lowering().run(v);
}

}  // namespace podserve::structured
