// The GGUF targets' shared body: a parsed GGUF file through the rest of the start-up load path, then a little
// use of the model that loaded.
#pragma once

#include <memory>
#include <utility>

#include "io/gguf.h"
#include "model/causal_lm.h"
#include "model/loaded_model.h"

namespace podserve::fuzz {

inline void load_and_use_gguf(GgufFile file) {
  Result<std::unique_ptr<LoadedModel>> model =
      load_gguf_model(std::move(file), LoadOptions{.show_progress = false, .num_threads = 1});
  if (!model.ok()) return;
  const Tokenizer& tok = (*model)->tokenizer();
  const std::vector<int32_t> ids = tok.encode("Hello <|im_start|> world\n\xF0\x9F\x98\x80 <s>", true, true);
  (void)tok.decode(ids, false);
  (void)(*model)->context_length();
}

}  // namespace podserve::fuzz
