#include "serve/openai/responses.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <random>

namespace podserve::openai {
namespace {

namespace json = boost::json;

json::value finish_value(FinishReason r) {
  const char* name = finish_reason_name(r);
  if (name == nullptr) return nullptr;
  return json::string(name);
}

json::value stop_reason_value(const StopReason& s) {
  if (const auto* str = std::get_if<std::string>(&s)) return json::string(*str);
  if (const auto* id = std::get_if<int32_t>(&s)) return *id;
  return nullptr;
}

/// vLLM's UsageInfo field order: prompt, total, completion. `prompt_tokens_details` is null in full responses
/// unless --enable-prompt-tokens-details filled it (streams leave a null one out: exclude_none).
json::object usage_object(const Usage& u, bool with_details) {
  json::object o;
  o["prompt_tokens"] = u.prompt_tokens;
  o["total_tokens"] = u.prompt_tokens + u.completion_tokens;
  o["completion_tokens"] = u.completion_tokens;
  if (u.cached_tokens) {
    json::object details;
    details["cached_tokens"] = *u.cached_tokens;
    o["prompt_tokens_details"] = std::move(details);
  } else if (with_details) {
    o["prompt_tokens_details"] = nullptr;
  }
  if (u.reasoning_tokens) o["completion_tokens_details"] = json::object{{"reasoning_tokens", *u.reasoning_tokens}};
  return o;
}

json::array ids_array(const std::vector<int32_t>& ids) {
  json::array a;
  a.reserve(ids.size());
  for (int32_t id : ids) a.emplace_back(id);
  return a;
}

json::value optional_string(const std::optional<std::string>& s) {
  if (s) return json::string(*s);
  return nullptr;
}

/// vLLM's ChatMessage (tool_calls left out when empty), plus `reasoning_content` beside `reasoning`.
json::object message_object(const std::string& role, const ChoiceOutput& c) {
  json::object message;
  message["role"] = role;
  message["content"] = c.message ? optional_string(c.message->content) : json::value(json::string(c.text));
  message["refusal"] = nullptr;
  message["annotations"] = nullptr;
  message["audio"] = nullptr;
  message["function_call"] = nullptr;
  if (c.message && !c.message->tool_calls.empty()) {
    json::array calls;
    for (const ExtractedCall& tc : c.message->tool_calls) {
      calls.emplace_back(json::object{{"id", tc.id.value_or("")},
                                      {"type", "function"},
                                      {"function", json::object{{"name", tc.name}, {"arguments", tc.arguments}}}});
    }
    message["tool_calls"] = std::move(calls);
  }
  const json::value reasoning = c.message ? optional_string(c.message->reasoning) : json::value(nullptr);
  message["reasoning"] = reasoning;
  message["reasoning_content"] = reasoning;
  return message;
}

json::value finish_json(const Finish& f, const std::optional<std::string>& override_reason) {
  if (override_reason) return json::string(*override_reason);
  return finish_value(f.reason);
}

json::object head(const ResponseMeta& meta, std::string_view object) {
  json::object o;
  o["id"] = meta.id;
  o["object"] = object;
  o["created"] = meta.created;
  o["model"] = meta.model;
  return o;
}

/// vLLM's ModelPermission defaults (a fresh id each time, as its default_factory).
json::object permission_object(int64_t created) {
  json::object p;
  p["id"] = make_request_id("modelperm-");
  p["object"] = "model_permission";
  p["created"] = created;
  p["allow_create_engine"] = false;
  p["allow_sampling"] = true;
  p["allow_logprobs"] = true;
  p["allow_search_indices"] = false;
  p["allow_view"] = true;
  p["allow_fine_tuning"] = false;
  p["organization"] = "*";
  p["group"] = nullptr;
  p["is_blocking"] = false;
  return p;
}

}  // namespace

std::string make_request_id(std::string_view prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(prefix);
  for (int word = 0; word < 2; ++word) {
    uint64_t bits = rng();
    for (int i = 0; i < 16; ++i, bits >>= 4) id += kHex[bits & 0xf];
  }
  return id;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string chat_completion_json(const ResponseMeta& meta, const std::string& role,
                                 const std::vector<ChoiceOutput>& choices, const Usage& usage,
                                 const json::value& prompt_logprobs) {
  json::array list;
  for (const ChoiceOutput& c : choices) {
    json::object choice;
    choice["index"] = c.index;
    choice["message"] = message_object(role, c);
    choice["logprobs"] = c.logprobs;
    choice["finish_reason"] = c.finish ? finish_json(*c.finish, c.finish_reason_override) : json::value(nullptr);
    choice["stop_reason"] = c.finish ? stop_reason_value(c.finish->stop_reason) : json::value(nullptr);
    if (c.token_ids) choice["token_ids"] = ids_array(*c.token_ids);
    list.emplace_back(std::move(choice));
  }
  json::object o = head(meta, "chat.completion");
  o["choices"] = std::move(list);
  o["service_tier"] = nullptr;
  o["system_fingerprint"] = nullptr;
  o["usage"] = usage_object(usage, true);
  o["prompt_logprobs"] = prompt_logprobs;
  if (!choices.empty() && choices[0].prompt_token_ids) {
    o["prompt_token_ids"] = ids_array(*choices[0].prompt_token_ids);
  }
  o["kv_transfer_params"] = nullptr;
  return json::serialize(o);
}

std::string chat_chunk_json(const ResponseMeta& meta, const std::optional<std::string>& role,
                            const ChoiceOutput& c, const std::optional<Usage>& usage) {
  json::object delta;
  if (role) delta["role"] = *role;
  if (c.delta) {
    for (auto& kv : delta_json(*c.delta, /*with_reasoning_content=*/true)) delta[kv.key()] = kv.value();
  } else {
    delta["content"] = c.text;
  }
  json::object choice;
  choice["index"] = c.index;
  choice["delta"] = std::move(delta);
  choice["logprobs"] = c.logprobs;
  if (c.finish) {
    choice["finish_reason"] = finish_json(*c.finish, c.finish_reason_override);
    choice["stop_reason"] = stop_reason_value(c.finish->stop_reason);
  } else {
    choice["finish_reason"] = nullptr;
  }
  if (c.token_ids) choice["token_ids"] = ids_array(*c.token_ids);
  json::object o = head(meta, "chat.completion.chunk");
  o["choices"] = json::array{std::move(choice)};
  if (c.prompt_token_ids) o["prompt_token_ids"] = ids_array(*c.prompt_token_ids);
  if (usage) o["usage"] = usage_object(*usage, false);
  return json::serialize(o);
}

std::string chat_usage_chunk_json(const ResponseMeta& meta, const Usage& usage) {
  json::object o = head(meta, "chat.completion.chunk");
  o["choices"] = json::array();
  o["usage"] = usage_object(usage, false);
  return json::serialize(o);
}

std::string completion_json(const ResponseMeta& meta, const std::vector<ChoiceOutput>& choices, const Usage& usage,
                            const json::value& prompt_logprobs) {
  json::array list;
  for (const ChoiceOutput& c : choices) {
    json::object choice;
    choice["index"] = c.index;
    choice["text"] = c.text;
    choice["logprobs"] = c.logprobs;
    choice["finish_reason"] = c.finish ? finish_value(c.finish->reason) : json::value(nullptr);
    choice["stop_reason"] = c.finish ? stop_reason_value(c.finish->stop_reason) : json::value(nullptr);
    choice["prompt_logprobs"] = c.prompt_logprobs.is_null() ? prompt_logprobs : c.prompt_logprobs;
    if (c.prompt_token_ids) choice["prompt_token_ids"] = ids_array(*c.prompt_token_ids);
    if (c.token_ids) choice["token_ids"] = ids_array(*c.token_ids);
    list.emplace_back(std::move(choice));
  }
  json::object o = head(meta, "text_completion");
  o["choices"] = std::move(list);
  o["service_tier"] = nullptr;
  o["system_fingerprint"] = nullptr;
  o["usage"] = usage_object(usage, true);
  o["kv_transfer_params"] = nullptr;
  return json::serialize(o);
}

std::string completion_chunk_json(const ResponseMeta& meta, const ChoiceOutput& c,
                                  const std::optional<Usage>& usage) {
  json::object choice;
  choice["index"] = c.index;
  choice["text"] = c.text;
  choice["logprobs"] = c.logprobs;
  choice["finish_reason"] = c.finish ? finish_value(c.finish->reason) : json::value(nullptr);
  choice["stop_reason"] = c.finish ? stop_reason_value(c.finish->stop_reason) : json::value(nullptr);
  if (c.prompt_token_ids) choice["prompt_token_ids"] = ids_array(*c.prompt_token_ids);
  if (c.token_ids) choice["token_ids"] = ids_array(*c.token_ids);
  json::object o = head(meta, "text_completion");
  o["choices"] = json::array{std::move(choice)};
  if (usage) o["usage"] = usage_object(*usage, false);
  return json::serialize(o);
}

std::string completion_usage_chunk_json(const ResponseMeta& meta, const Usage& usage) {
  json::object o = head(meta, "text_completion");
  o["choices"] = json::array();
  o["usage"] = usage_object(usage, false);
  return json::serialize(o);
}

std::string model_list_json(const std::vector<std::string>& served_names, const std::string& root, int64_t created,
                            int max_model_len, const std::vector<ServedLora>& loras) {
  json::array cards;
  auto add_card = [&](const std::string& id, const std::string& card_root, json::value parent, json::value max_len) {
    json::object card;
    card["id"] = id;
    card["object"] = "model";
    card["created"] = created;
    card["owned_by"] = "vllm";
    card["root"] = card_root;
    card["parent"] = std::move(parent);
    card["max_model_len"] = std::move(max_len);
    card["permission"] = json::array{permission_object(unix_now())};
    cards.emplace_back(std::move(card));
  };
  for (const std::string& name : served_names) add_card(name, root, nullptr, max_model_len);
  // vLLM's adapter cards: root = the adapter's path, parent = its base, no max_model_len.
  for (const ServedLora& lora : loras) add_card(lora.name, lora.root, json::string(lora.parent), nullptr);
  json::object o;
  o["object"] = "list";
  o["data"] = std::move(cards);
  return json::serialize(o);
}

}  // namespace podserve::openai
