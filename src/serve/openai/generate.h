// Runs one prepared request through the engine and answers the client, as one JSON response or as an SSE
// stream. Shared by /v1/chat/completions and /v1/completions, which differ only in their chunk shapes.
#pragma once

#include <optional>
#include <string>

#include "engine/engine.h"
#include "serve/http/http_types.h"
#include "serve/openai/responses.h"

namespace podserve::openai {

/// The response shapes of one endpoint.
class ResponseFormat {
 public:
  virtual ~ResponseFormat() = default;
  /// The chunk sent before any text (chat: `delta: {role, content: ""}`), or nullopt.
  virtual std::optional<std::string> first_chunk(const ResponseMeta& meta) const = 0;
  virtual std::string chunk(const ResponseMeta& meta, const std::string& text, const std::optional<Finish>& finish,
                            const std::optional<Usage>& usage) const = 0;
  virtual std::string usage_chunk(const ResponseMeta& meta, const Usage& usage) const = 0;
  virtual std::string full(const ResponseMeta& meta, const std::string& text, const Finish& finish,
                           const Usage& usage) const = 0;
};

class ChatFormat final : public ResponseFormat {
 public:
  explicit ChatFormat(std::string role) : role_(std::move(role)) {}
  std::optional<std::string> first_chunk(const ResponseMeta& meta) const override;
  std::string chunk(const ResponseMeta& meta, const std::string& text, const std::optional<Finish>& finish,
                    const std::optional<Usage>& usage) const override;
  std::string usage_chunk(const ResponseMeta& meta, const Usage& usage) const override;
  std::string full(const ResponseMeta& meta, const std::string& text, const Finish& finish,
                   const Usage& usage) const override;

 private:
  std::string role_;
};

class CompletionFormat final : public ResponseFormat {
 public:
  std::optional<std::string> first_chunk(const ResponseMeta&) const override { return std::nullopt; }
  std::string chunk(const ResponseMeta& meta, const std::string& text, const std::optional<Finish>& finish,
                    const std::optional<Usage>& usage) const override;
  std::string usage_chunk(const ResponseMeta& meta, const Usage& usage) const override;
  std::string full(const ResponseMeta& meta, const std::string& text, const Finish& finish,
                   const Usage& usage) const override;
};

/// A request ready for the engine plus how to answer it.
struct PreparedGeneration {
  GenerationRequest request;
  ResponseMeta meta;
  bool stream = false;
  bool include_usage = false;
  bool continuous_usage = false;
};

/// Submits the request and answers through `writer` (errors included). Outputs arrive on the engine thread and
/// are handed to this coroutine through a queue; if the client disconnects first, the request is aborted.
http::awaitable<void> run_generation(Engine& engine, PreparedGeneration gen, const ResponseFormat& format,
                                     http::ResponseWriter& writer);

}  // namespace podserve::openai
