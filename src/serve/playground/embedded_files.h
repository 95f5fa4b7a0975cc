// The playground's static files, compiled into the binary: cmake/embed_files.cmake generates the definitions
// from src/serve/playground/{index.html,playground.css,playground.js,favicon.svg} at build time.
#pragma once

#include <cstddef>
#include <string_view>

namespace podserve::playground {

struct EmbeddedFile {
  std::string_view name;  // the file's base name, e.g. "playground.js"
  const unsigned char* data;
  size_t size;
};

extern const EmbeddedFile kEmbeddedFiles[];
extern const size_t kEmbeddedFileCount;

}  // namespace podserve::playground
