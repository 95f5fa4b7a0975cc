// POST /v1/load_lora_adapter and /v1/unload_lora_adapter as vLLM 0.32.0 serves them
// (vllm/entrypoints/serve/lora/api_router.py, openai/models/serving.py): plain-text 200s, vLLM's checks and
// messages. Registered only with VLLM_ALLOW_RUNTIME_LORA_UPDATING. The adapter is read (or downloaded from the
// Hub) on a thread of its own while the request's coroutine waits, so no HTTP thread is held by a slow read, then
// handed to the engine's table through its queue; the name is served once the engine has it queued. The service
// owns those threads and joins them at shutdown (join_background_work).
#include <deque>

#include "base/log.h"
#include "model/lora.h"
#include "serve/http/async_queue.h"
#include "serve/openai/errors.h"
#include "serve/openai/field_reader.h"
#include "serve/openai/protocol.h"
#include "serve/openai/service.h"

namespace podserve::openai {
namespace {

struct LoraRouteRequest {
  std::optional<std::string> lora_name, lora_path;
  bool load_inplace = false;
  bool is_3d_lora_weight = false;
};

/// The load (with_path) or unload body. lora_int_id (unload) is read and ignored, as vLLM does.
ApiResult<LoraRouteRequest> parse_lora_route_request(std::string_view body, bool with_path) {
  ApiResult<boost::json::object> obj = parse_body(body);
  if (!obj.ok()) return obj.error();
  FieldReader r(obj.value());
  LoraRouteRequest req;
  if (auto e = r.get_string("lora_name", &req.lora_name)) return *e;
  if (with_path) {
    if (auto e = r.get_string("lora_path", &req.lora_path)) return *e;
    if (auto e = r.get_bool("load_inplace", &req.load_inplace)) return *e;
    if (auto e = r.get_bool("is_3d_lora_weight", &req.is_3d_lora_weight)) return *e;
  } else {
    std::optional<int64_t> id;
    if (auto e = r.get_int("lora_int_id", &id)) return *e;
  }
  return req;
}

using LoadedLora = Result<std::shared_ptr<const LoraAdapter>>;

/// `load(path)` on a thread of `threads` (it owns copies of what it uses), its result awaited without blocking an
/// HTTP thread. Nullopt once the server is shutting down.
http::awaitable<std::optional<LoadedLora>> load_off_thread(BackgroundThreads& threads, const LoraLoader& load,
                                                           const std::string& path, http::ResponseWriter& writer) {
  auto done = std::make_shared<http::AsyncQueue<LoadedLora>>(writer.executor());
  if (!threads.spawn([done, load, path] { done->push(load(path)); })) co_return std::nullopt;
  std::deque<LoadedLora> result = co_await done->pop_all();
  if (result.empty()) co_return std::nullopt;  // the wait was cancelled
  co_return std::move(result.front());
}

/// vLLM's Response(content=str): a 200 with the text and no media type.
http::HttpResponse plain_text(std::string text) { return http::HttpResponse{200, "", std::move(text)}; }

}  // namespace

// The loader on a thread of background_ (joined at shutdown), its result awaited without blocking an HTTP thread;
// Unavailable once the server is shutting down.
http::awaitable<LoadedLora> OpenAiService::load_adapter_off_thread(const std::string& path,
                                                                   http::ResponseWriter& writer) {
  std::optional<LoadedLora> loaded = co_await load_off_thread(background_, options_.load_lora, path, writer);
  if (!loaded) co_return unavailable("the server is shutting down");
  co_return std::move(*loaded);
}

http::awaitable<void> OpenAiService::load_lora_adapter(const http::HttpRequest& req, http::ResponseWriter& writer) {
  ApiResult<LoraRouteRequest> parsed = parse_lora_route_request(req.body, /*with_path=*/true);
  std::optional<ApiError> error;
  if (!parsed.ok()) error = parsed.error();
  const LoraRouteRequest r = parsed.ok() ? parsed.value() : LoraRouteRequest{};
  const std::string name = r.lora_name.value_or(""), path = r.lora_path.value_or("");
  if (!error && (name.empty() || path.empty())) {
    error = bad_request("Both 'lora_name' and 'lora_path' must be provided.");
  }
  if (!error) {
    for (const std::string& base : served_names()) {
      if (name == base) error = bad_request("The lora adapter '" + name + "' conflicts with a served base model.");
    }
  }
  if (!error && !r.load_inplace && loras_.find(name)) {
    error = bad_request("The lora adapter '" + name +
                        "' has already been loaded. If you want to load the adapter in place, set 'load_inplace' to "
                        "True.");
  }
  if (!error && r.is_3d_lora_weight) error = bad_request("is_3d_lora_weight: podserve has no MoE LoRA", "is_3d_lora_weight");
  // vLLM's engine refuses a LoRA request when LoRA is off (a 500 there; a 400 here: the request is at fault).
  if (!error && !options_.load_lora) error = bad_request("LoRA is not enabled. Use --enable-lora to enable LoRA.");
  std::shared_ptr<const LoraAdapter> adapter;
  if (!error) {
    std::optional<LoadedLora> loaded = co_await load_off_thread(background_, options_.load_lora, path, writer);
    if (!loaded) {
      error = api_error(StatusCode::kUnavailable, "Loading lora " + name + " failed: the server is shutting down");
    } else if (loaded->ok()) {
      adapter = std::move(*loaded).value();
    } else if (loaded->status().code() == StatusCode::kNotFound) {
      error = api_error(StatusCode::kNotFound, "Loading lora " + name + " failed: No adapter found for " + path);
    } else {
      // vLLM answers its engine's text with a 500; a bad adapter is the request's fault here: a 400.
      error = bad_request("Loading lora " + name + " failed: " + loaded->status().message());
    }
  }
  if (!error) {
    const std::optional<ServedLora> previous = loras_.find(name);
    const ServedLora entry{name, path, options_.served_model_name, nullptr, loras_.id_for(name), adapter->path};
    if (!loras_.put(entry, r.load_inplace)) {  // another load of this name got there first
      error = bad_request("The lora adapter '" + name +
                          "' has already been loaded. If you want to load the adapter in place, set 'load_inplace' "
                          "to True.");
    } else {
      engine_.add_lora(LoraRef{entry.id, name, entry.dir}, std::move(adapter));
      if (previous && previous->root == path) {
        PODSERVE_LOG(kInfo) << "Reloaded LoRA adapter '" << name << "' in place from the same path '" << path
                            << "' (its prefix-cache blocks are keyed by the weights, so none of the old ones is reused)";
      }
      PODSERVE_LOG(kInfo) << "Loaded new LoRA adapter: name '" << name << "', path '" << path << "'";
    }
  }
  if (error) {
    co_await writer.send(error_response(*error));
    co_return;
  }
  co_await writer.send(plain_text("Success: LoRA adapter '" + name + "' added successfully."));
}

void OpenAiService::join_background_work() {
  if (const size_t n = background_.running(); n > 0) {
    PODSERVE_LOG(kInfo) << "Shutting down: waiting for " << n << " LoRA adapter load(s) to finish";
  }
  background_.join_all();
}

http::awaitable<void> OpenAiService::unload_lora_adapter(const http::HttpRequest& req, http::ResponseWriter& writer) {
  ApiResult<LoraRouteRequest> parsed = parse_lora_route_request(req.body, /*with_path=*/false);
  std::optional<ApiError> error;
  if (!parsed.ok()) error = parsed.error();
  const std::string name = parsed.ok() ? parsed.value().lora_name.value_or("") : "";
  if (!error && name.empty()) error = bad_request("'lora_name' needs to be provided to unload a LoRA adapter.");
  // vLLM drops the name only: running requests finish with the adapter (here they hold its weights), and the
  // engine's copy ages out of its table.
  if (!error && !loras_.remove(name)) {
    error = api_error(StatusCode::kNotFound, "The lora adapter '" + name + "' cannot be found.");
  }
  if (error) {
    co_await writer.send(error_response(*error));
    co_return;
  }
  PODSERVE_LOG(kInfo) << "Removed LoRA adapter: name '" << name << "'";
  co_await writer.send(plain_text("Success: LoRA adapter '" + name + "' removed successfully."));
}

}  // namespace podserve::openai
