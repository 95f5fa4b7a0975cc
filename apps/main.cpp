// podserve: one binary, subcommands. Thin: parses the subcommand and hands off to the serve layer.
#include <cstdio>
#include <cstring>
#include <string>

#include "serve/serve_command.h"

namespace {
void print_help() {
  std::printf(
      "podserve %s: an OpenAI-compatible LLM server (a native drop-in for vLLM and the RunPod vLLM worker)\n\n"
      "Usage: podserve <command> [options]\n\n"
      "Commands:\n"
      "  serve      serve a model over the OpenAI API (see `podserve serve --help`)\n\n"
      "Options:\n"
      "  -h, --help     show this help\n"
      "  -V, --version  show the version\n",
      PODSERVE_VERSION);
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
  if (!std::strcmp(argv[1], "serve")) return podserve::run_serve(argc - 1, argv + 1);
  std::fprintf(stderr, "podserve: unknown command '%s' (try `podserve --help`)\n", argv[1]);
  return 2;
}
