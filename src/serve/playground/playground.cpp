#include "serve/playground/playground.h"

#include <cstdint>
#include <string>
#include <utility>

#include "serve/openai/errors.h"
#include "serve/playground/embedded_files.h"

namespace podserve::playground {
namespace {

constexpr std::string_view kFilePrefix = "/playground/";

/// Script, styles, icon, fetch() and images only from this server; no plugins, no framing, no form posts.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

std::string_view content_type_of(std::string_view name) {
  auto ends_with = [&](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

/// A strong validator from the bytes (64-bit FNV-1a): it changes exactly when the file does.
std::string etag_of(const EmbeddedFile& file) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < file.size; ++i) {
    h = (h ^ file.data[i]) * 0x100000001b3ull;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string tag = "\"";
  for (int shift = 60; shift >= 0; shift -= 4) tag += kHex[(h >> shift) & 0xf];
  return tag + "\"";
}

const EmbeddedFile* find_file(std::string_view name) {
  for (size_t i = 0; i < kEmbeddedFileCount; ++i) {
    if (kEmbeddedFiles[i].name == name) return &kEmbeddedFiles[i];
  }
  return nullptr;
}

/// True when an If-None-Match list names `etag` (or is `*`).
bool matches_etag(std::string_view if_none_match, std::string_view etag) {
  if (if_none_match == "*") return true;
  while (!if_none_match.empty()) {
    const size_t comma = if_none_match.find(',');
    std::string_view tag = if_none_match.substr(0, comma);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);  // weak comparison, as RFC 9110 asks for GET
    if (tag == etag) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

http::awaitable<void> serve_file(std::string_view name, const http::HttpRequest& req, http::ResponseWriter& writer) {
  std::optional<http::HttpResponse> res = file_response(name, req.header("if-none-match"));
  if (!res) res = openai::error_response(404, "Route " + req.method + " " + req.path + " not found");
  http::HttpResponse out = std::move(*res);
  co_await writer.send(std::move(out));
}

}  // namespace

std::optional<http::HttpResponse> file_response(std::string_view name, std::string_view if_none_match) {
  const EmbeddedFile* file = find_file(name);
  if (file == nullptr) return std::nullopt;
  std::string etag = etag_of(*file);
  http::HttpResponse res;
  res.content_type = std::string(content_type_of(name));
  res.headers = {{"Cache-Control", "no-cache"}, {"X-Content-Type-Options", "nosniff"}};
  if (name == "index.html") {
    res.headers.emplace_back("Content-Security-Policy", std::string(kContentSecurityPolicy));
    res.headers.emplace_back("X-Frame-Options", "DENY");
    res.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  if (matches_etag(if_none_match, etag)) {
    res.status = 304;  // the browser's copy is current
    res.content_type.clear();
  } else {
    res.body.assign(reinterpret_cast<const char*>(file->data), file->size);
  }
  res.headers.emplace_back("ETag", std::move(etag));
  return res;
}

void register_routes(http::Router& router) {
  router.add("GET", "/", [](const http::HttpRequest& r, http::ResponseWriter& w) {
    return serve_file("index.html", r, w);
  });
  router.add_prefix("GET", std::string(kFilePrefix), [](const http::HttpRequest& r, http::ResponseWriter& w) {
    return serve_file(std::string_view(r.path).substr(kFilePrefix.size()), r, w);
  });
}

}  // namespace podserve::playground
