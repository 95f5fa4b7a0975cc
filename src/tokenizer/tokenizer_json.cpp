#include "tokenizer/tokenizer_json.h"

#include <boost/json.hpp>
#include <unordered_map>

#include "tokenizer/tokenizer_json_sax.h"

namespace podserve {
namespace {

namespace json = boost::json;

Status bad(const std::string& what) { return invalid_argument("tokenizer.json: " + what); }

std::string type_of(const json::object& o) {
  const json::value* t = o.if_contains("type");
  return t && t->is_string() ? std::string(t->get_string()) : std::string();
}

Result<std::string> string_field(const json::object& o, std::string_view key, std::string_view where) {
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_string()) return bad(std::string(where) + ": '" + std::string(key) + "' must be a string");
  return std::string(v->get_string());
}

std::string string_or(const json::object& o, std::string_view key, std::string fallback) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : fallback;
}

bool bool_or(const json::object& o, std::string_view key, bool fallback) {
  const json::value* v = o.if_contains(key);
  return v && v->is_bool() ? v->get_bool() : fallback;
}

// {"String": s} or {"Regex": r}: the pattern and whether it is a regex.
Result<std::pair<std::string, bool>> pattern_field(const json::object& o, std::string_view where) {
  const json::value* p = o.if_contains("pattern");
  if (!p || !p->is_object()) return bad(std::string(where) + ": 'pattern' must be an object");
  if (const json::value* s = p->get_object().if_contains("String"); s && s->is_string()) {
    return std::pair{std::string(s->get_string()), false};
  }
  if (const json::value* r = p->get_object().if_contains("Regex"); r && r->is_string()) {
    return std::pair{std::string(r->get_string()), true};
  }
  return bad(std::string(where) + ": 'pattern' needs a String or Regex");
}

Status unsupported(std::string_view stage, const std::string& type) {
  return bad("unsupported " + std::string(stage) + " type '" + type + "'");
}

Status parse_normalizer(const json::value& v, std::vector<NormalizerStep>* out) {
  if (v.is_null()) return ok_status();
  if (!v.is_object()) return bad("normalizer must be an object");
  const json::object& o = v.get_object();
  const std::string type = type_of(o);
  using K = NormalizerStep::Kind;
  if (type == "Sequence") {
    const json::value* list = o.if_contains("normalizers");
    if (!list || !list->is_array()) return bad("normalizer Sequence needs 'normalizers'");
    for (const json::value& n : list->get_array()) PODSERVE_RETURN_IF_ERROR(parse_normalizer(n, out));
    return ok_status();
  }
  NormalizerStep step;
  if (type == "Prepend") {
    step.kind = K::kPrepend;
    PODSERVE_ASSIGN_OR_RETURN(step.content, string_field(o, "prepend", "Prepend"));
  } else if (type == "Replace") {
    PODSERVE_ASSIGN_OR_RETURN(auto pattern, pattern_field(o, "Replace"));
    step.kind = pattern.second ? K::kReplaceRegex : K::kReplace;
    step.pattern = pattern.first;
    PODSERVE_ASSIGN_OR_RETURN(step.content, string_field(o, "content", "Replace"));
  } else if (type == "NFC") {
    step.kind = K::kNfc;
  } else if (type == "NFD") {
    step.kind = K::kNfd;
  } else if (type == "NFKC") {
    step.kind = K::kNfkc;
  } else if (type == "NFKD") {
    step.kind = K::kNfkd;
  } else if (type == "Lowercase") {
    step.kind = K::kLowercase;
  } else if (type == "Strip") {
    step.kind = K::kStrip;
    step.strip_left = bool_or(o, "strip_left", true);
    step.strip_right = bool_or(o, "strip_right", true);
  } else {
    return unsupported("normalizer", type);
  }
  out->push_back(std::move(step));
  return ok_status();
}

Result<SplitBehavior> behavior_of(const json::object& o) {
  static const std::pair<std::string_view, SplitBehavior> kNames[] = {
      {"Removed", SplitBehavior::kRemoved},
      {"Isolated", SplitBehavior::kIsolated},
      {"MergedWithPrevious", SplitBehavior::kMergedWithPrevious},
      {"MergedWithNext", SplitBehavior::kMergedWithNext},
      {"Contiguous", SplitBehavior::kContiguous}};
  const std::string name = string_or(o, "behavior", "");
  for (const auto& [n, b] : kNames) {
    if (n == name) return b;
  }
  return bad("unknown split behavior '" + name + "'");
}

Status parse_pre_tokenizer(const json::value& v, std::vector<PreTokenizerStep>* out) {
  if (v.is_null()) return ok_status();
  if (!v.is_object()) return bad("pre_tokenizer must be an object");
  const json::object& o = v.get_object();
  const std::string type = type_of(o);
  using K = PreTokenizerStep::Kind;
  if (type == "Sequence") {
    const json::value* list = o.if_contains("pretokenizers");
    if (!list || !list->is_array()) return bad("pre_tokenizer Sequence needs 'pretokenizers'");
    for (const json::value& p : list->get_array()) PODSERVE_RETURN_IF_ERROR(parse_pre_tokenizer(p, out));
    return ok_status();
  }
  PreTokenizerStep step;
  if (type == "Split") {
    step.kind = K::kSplit;
    PODSERVE_ASSIGN_OR_RETURN(auto pattern, pattern_field(o, "Split"));
    step.pattern = pattern.first;
    step.pattern_is_regex = pattern.second;
    PODSERVE_ASSIGN_OR_RETURN(step.behavior, behavior_of(o));
    step.invert = bool_or(o, "invert", false);
  } else if (type == "ByteLevel") {
    step.kind = K::kByteLevel;
    step.add_prefix_space = bool_or(o, "add_prefix_space", true);
    step.use_regex = bool_or(o, "use_regex", true);
  } else if (type == "Metaspace") {
    step.kind = K::kMetaspace;
    step.replacement = string_or(o, "replacement", step.replacement);
    const std::string scheme = string_or(o, "prepend_scheme", bool_or(o, "add_prefix_space", true) ? "always" : "never");
    if (scheme == "always") {
      step.prepend_scheme = PreTokenizerStep::Prepend::kAlways;
    } else if (scheme == "first") {
      step.prepend_scheme = PreTokenizerStep::Prepend::kFirst;
    } else if (scheme == "never") {
      step.prepend_scheme = PreTokenizerStep::Prepend::kNever;
    } else {
      return bad("unknown Metaspace prepend_scheme '" + scheme + "'");
    }
    step.split = bool_or(o, "split", true);
  } else if (type == "Digits") {
    step.kind = K::kDigits;
    step.individual_digits = bool_or(o, "individual_digits", false);
  } else {
    return unsupported("pre_tokenizer", type);
  }
  out->push_back(std::move(step));
  return ok_status();
}

Status parse_decoder(const json::value& v, std::vector<DecoderStep>* out) {
  if (v.is_null()) return ok_status();
  if (!v.is_object()) return bad("decoder must be an object");
  const json::object& o = v.get_object();
  const std::string type = type_of(o);
  using K = DecoderStep::Kind;
  if (type == "Sequence") {
    const json::value* list = o.if_contains("decoders");
    if (!list || !list->is_array()) return bad("decoder Sequence needs 'decoders'");
    for (const json::value& d : list->get_array()) PODSERVE_RETURN_IF_ERROR(parse_decoder(d, out));
    return ok_status();
  }
  DecoderStep step;
  if (type == "ByteLevel") {
    step.kind = K::kByteLevel;
  } else if (type == "Replace") {
    step.kind = K::kReplace;
    PODSERVE_ASSIGN_OR_RETURN(auto pattern, pattern_field(o, "Replace decoder"));
    if (pattern.second) return bad("Replace decoder with a Regex pattern is not supported");
    step.pattern = pattern.first;
    PODSERVE_ASSIGN_OR_RETURN(step.content, string_field(o, "content", "Replace decoder"));
  } else if (type == "ByteFallback") {
    step.kind = K::kByteFallback;
  } else if (type == "Fuse") {
    step.kind = K::kFuse;
  } else if (type == "Strip") {
    step.kind = K::kStrip;
    PODSERVE_ASSIGN_OR_RETURN(step.content, string_field(o, "content", "Strip decoder"));
    const json::value* start = o.if_contains("start");
    const json::value* stop = o.if_contains("stop");
    if (!start || !start->is_int64() || !stop || !stop->is_int64() || start->get_int64() < 0 ||
        stop->get_int64() < 0 || start->get_int64() > 1000000 || stop->get_int64() > 1000000) {
      return bad("Strip decoder needs small non-negative 'start' and 'stop'");
    }
    step.start = static_cast<int>(start->get_int64());
    step.stop = static_cast<int>(stop->get_int64());
  } else if (type == "Metaspace") {
    step.kind = K::kMetaspace;
    step.replacement = string_or(o, "replacement", step.replacement);
    const std::string scheme = string_or(o, "prepend_scheme", bool_or(o, "add_prefix_space", true) ? "always" : "never");
    step.prepend = scheme != "never";
  } else {
    return unsupported("decoder", type);
  }
  out->push_back(std::move(step));
  return ok_status();
}

using IdsByToken = std::unordered_map<std::string, int32_t>;

// Appends `single`'s special tokens before / after sequence A.
Status template_processing(const json::object& o, TokenizerSpec* spec) {
  const json::value* single = o.if_contains("single");
  const json::value* specials = o.if_contains("special_tokens");
  if (!single || !single->is_array()) return bad("TemplateProcessing needs 'single'");
  bool after = false;
  for (const json::value& item : single->get_array()) {
    if (!item.is_object()) return bad("TemplateProcessing item must be an object");
    if (item.get_object().contains("Sequence")) {
      after = true;
      continue;
    }
    const json::value* st = item.get_object().if_contains("SpecialToken");
    if (!st || !st->is_object()) return bad("TemplateProcessing item needs Sequence or SpecialToken");
    PODSERVE_ASSIGN_OR_RETURN(std::string name, string_field(st->get_object(), "id", "SpecialToken"));
    const json::value* entry = specials && specials->is_object() ? specials->get_object().if_contains(name) : nullptr;
    const json::value* ids = entry && entry->is_object() ? entry->get_object().if_contains("ids") : nullptr;
    if (!ids || !ids->is_array()) return bad("TemplateProcessing special token '" + name + "' has no ids");
    for (const json::value& id : ids->get_array()) {
      if (!id.is_int64() || id.get_int64() < 0 || id.get_int64() > INT32_MAX) {
        return bad("TemplateProcessing special token '" + name + "' has a bad id");
      }
      (after ? spec->suffix_ids : spec->prefix_ids).push_back(static_cast<int32_t>(id.get_int64()));
    }
  }
  return ok_status();
}

// BertProcessing / RobertaProcessing: cls = [text, id] before, sep = [text, id] after.
Status cls_sep(const json::object& o, TokenizerSpec* spec) {
  for (const char* key : {"cls", "sep"}) {
    const json::value* v = o.if_contains(key);
    if (!v || !v->is_array() || v->get_array().size() != 2 || !v->get_array()[1].is_int64()) {
      return bad(std::string("post_processor needs '") + key + "' as [token, id]");
    }
    const int64_t id = v->get_array()[1].get_int64();
    if (id < 0 || id > INT32_MAX) return bad(std::string("post_processor '") + key + "' id is out of range");
    (std::string(key) == "cls" ? spec->prefix_ids : spec->suffix_ids).push_back(static_cast<int32_t>(id));
  }
  return ok_status();
}

Status parse_post_processor(const json::value& v, TokenizerSpec* spec) {
  if (v.is_null()) return ok_status();
  if (!v.is_object()) return bad("post_processor must be an object");
  const json::object& o = v.get_object();
  const std::string type = type_of(o);
  if (type == "Sequence") {
    const json::value* list = o.if_contains("processors");
    if (!list || !list->is_array()) return bad("post_processor Sequence needs 'processors'");
    for (const json::value& p : list->get_array()) PODSERVE_RETURN_IF_ERROR(parse_post_processor(p, spec));
    return ok_status();
  }
  if (type == "ByteLevel") return ok_status();  // offsets only
  if (type == "TemplateProcessing") return template_processing(o, spec);
  if (type == "BertProcessing" || type == "RobertaProcessing") return cls_sep(o, spec);
  return unsupported("post_processor", type);
}

Status parse_bpe(const json::object& model, tokenizer_internal::BpeTables* tables, TokenizerSpec* spec) {
  if (!tables->has_vocab) return bad("model.vocab must be an object");
  const size_t n = tables->vocab.size();
  spec->vocab.assign(n, "");
  for (auto& [token, id] : tables->vocab) {
    if (static_cast<uint64_t>(id) >= n) {
      return bad("model.vocab id of '" + token + "' is not in [0, " + std::to_string(n) + ")");
    }
    std::string& slot = spec->vocab[static_cast<size_t>(id)];
    if (!slot.empty()) return bad("model.vocab id " + std::to_string(id) + " is used twice");
    slot = std::move(token);
  }
  if (model.contains("merges") && !tables->has_merges) return bad("model.merges must be a list");
  spec->merges = std::move(tables->merges);
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (!string_or(model, key, "").empty()) return bad(std::string("BPE ") + key + " is not supported");
  }
  if (const json::value* d = model.if_contains("dropout"); d && d->is_number() && d->to_number<double>() != 0) {
    return bad("BPE dropout is not supported");
  }
  spec->fuse_unk = bool_or(model, "fuse_unk", false);
  spec->byte_fallback = bool_or(model, "byte_fallback", false);
  spec->ignore_merges = bool_or(model, "ignore_merges", false);
  return ok_status();
}

}  // namespace

Result<TokenizerSpec> parse_tokenizer_json(std::string_view json_text) {
  // The DOM (without the big tables) lives in one arena that dies with this call.
  json::monotonic_resource arena;
  tokenizer_internal::BpeTables tables;
  Result<json::value> parsed = tokenizer_internal::parse_tokenizer_document(json_text, &arena, &tables);
  if (!parsed.ok()) return bad(parsed.status().message());
  const json::value& root = *parsed;
  if (!root.is_object()) return bad("the top level must be an object");
  const json::object& top = root.get_object();
  const json::value* model = top.if_contains("model");
  if (!model || !model->is_object()) return bad("'model' must be an object");
  std::string model_type = type_of(model->get_object());
  if (model_type.empty() && model->get_object().contains("merges")) model_type = "BPE";  // old files omit it
  if (model_type != "BPE") return bad("unsupported model type '" + model_type + "' (supported: BPE)");
  TokenizerSpec spec;
  PODSERVE_RETURN_IF_ERROR(parse_bpe(model->get_object(), &tables, &spec));

  if (const json::value* added = top.if_contains("added_tokens"); added && !added->is_null()) {
    if (!added->is_array()) return bad("'added_tokens' must be a list");
    for (const json::value& a : added->get_array()) {
      if (!a.is_object()) return bad("an added token must be an object");
      const json::object& o = a.get_object();
      AddedTokenSpec t;
      const json::value* id = o.if_contains("id");
      if (!id || !id->is_int64() || id->get_int64() < 0 || id->get_int64() > INT32_MAX / 4) {
        return bad("an added token needs a valid 'id'");
      }
      t.id = static_cast<int32_t>(id->get_int64());
      PODSERVE_ASSIGN_OR_RETURN(t.content, string_field(o, "content", "added token"));
      t.special = bool_or(o, "special", false);
      t.lstrip = bool_or(o, "lstrip", false);
      t.rstrip = bool_or(o, "rstrip", false);
      t.single_word = bool_or(o, "single_word", false);
      t.normalized = bool_or(o, "normalized", !t.special);
      spec.added_tokens.push_back(std::move(t));
    }
  }
  const auto stage = [&](std::string_view key) -> const json::value& {
    static const json::value kNull;
    const json::value* v = top.if_contains(key);
    return v ? *v : kNull;
  };
  PODSERVE_RETURN_IF_ERROR(parse_normalizer(stage("normalizer"), &spec.normalizer));
  PODSERVE_RETURN_IF_ERROR(parse_pre_tokenizer(stage("pre_tokenizer"), &spec.pre_tokenizer));
  PODSERVE_RETURN_IF_ERROR(parse_post_processor(stage("post_processor"), &spec));
  PODSERVE_RETURN_IF_ERROR(parse_decoder(stage("decoder"), &spec.decoder));

  // The unknown token, by name, among the model's tokens or the added ones.
  const std::string unk = string_or(model->get_object(), "unk_token", "");
  if (!unk.empty()) {
    for (size_t i = 0; i < spec.vocab.size() && spec.unk_id < 0; ++i) {
      if (spec.vocab[i] == unk) spec.unk_id = static_cast<int32_t>(i);
    }
    for (const AddedTokenSpec& a : spec.added_tokens) {
      if (spec.unk_id < 0 && a.content == unk) spec.unk_id = a.id;
    }
  }
  return spec;
}

}  // namespace podserve
