// `podserve tokenize` and `podserve chat-template`: small user/test tools over the tokenizer and chat layers.
#pragma once

namespace podserve {

/// JSON lines {"text": ...} on stdin -> {"ids": [...]} on stdout (`--decode`: the reverse).
int run_tokenize(int argc, char** argv);
/// Renders a chat template (file, model directory, tokenizer_config.json or GGUF) with a JSON input file.
int run_chat_template(int argc, char** argv);
/// Engine-level speed in process: llama-bench's pp/tg and `vllm bench throughput` (apps/bench_command.cpp).
int run_bench(int argc, char** argv);

}  // namespace podserve
