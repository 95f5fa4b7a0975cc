// podserve: one binary, subcommands. Thin: picks the subcommand and hands off to the layer that owns it.
#include <cstdio>
#include <cstring>
#include <string>

#include "endpoint/endpoint_command.h"
#include "hub/download_command.h"
#include "serve/env_table.h"
#include "serve/serve_command.h"
#include "tool_commands.h"
#include "worker/worker_command.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);  // argv[0] is the command name
};

// One line per subcommand.
constexpr Command kCommands[] = {
    {"serve", "serve a model over the OpenAI API", podserve::run_serve},
    {"download", "fetch a model from the Hugging Face Hub into the shared cache", podserve::run_download},
    {"worker", "run as a RunPod serverless worker (pulls jobs from RUNPOD_WEBHOOK_GET_JOB)", podserve::run_worker},
    {"endpoint", "a local RunPod-compatible endpoint: job queue, RunPod's API, autoscaled workers",
     podserve::run_endpoint},
    {"tokenize", "text <-> token ids as JSON lines (model dir, tokenizer.json or .gguf)", podserve::run_tokenize},
    {"chat-template", "render a chat template with a JSON input, as transformers would", podserve::run_chat_template},
    {"bench", "engine-level speed in process: llama-bench's pp/tg, vLLM's offline throughput", podserve::run_bench},
    {"env-table", "every environment variable podserve answers (the README's table; --json)",
     podserve::run_env_table},
};

void print_help() {
  std::printf(
      "podserve %s: an OpenAI-compatible LLM server (a native drop-in for vLLM and the RunPod vLLM worker)\n\n"
      "Usage: podserve <command> [options]   (`podserve <command> --help` for its options)\n\nCommands:\n",
      PODSERVE_VERSION);
  for (const Command& c : kCommands) std::printf("  %-14s %s\n", c.name, c.summary);
  std::printf(
      "\nOptions:\n"
      "  -h, --help     show this help\n"
      "  -V, --version  show the version\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    print_help();
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version") || !std::strcmp(argv[1], "-V")) {
    std::printf("podserve %s\n", PODSERVE_VERSION);
    return 0;
  }
  for (const Command& c : kCommands) {
    if (!std::strcmp(argv[1], c.name)) return c.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "podserve: unknown command '%s' (try `podserve --help`)\n", argv[1]);
  return 2;
}
