#include "net/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

namespace podserve::net {
namespace {

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// State shared with curl's callbacks during one transfer.
struct Transfer {
  const HttpRequest* request;
  HttpResponse* response;
  CURL* curl;
  bool headers_reported = false;
  bool answer_started = false;  // a status line arrived
  bool aborted = false;
};

// Reports the final response's headers once, at the first body byte (or at the end for empty bodies).
bool report_headers(Transfer& t) {
  if (t.headers_reported) return true;
  t.headers_reported = true;
  curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &t.response->status);
  if (t.request->on_headers && !t.request->on_headers(t.response->status, t.response->headers)) {
    t.aborted = true;
    return false;
  }
  return true;
}

size_t on_header_line(char* data, size_t size, size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    t.answer_started = true;
    t.response->headers.clear();  // a new response (redirect hop or 100-continue): keep only the last one's
  } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
    t.response->headers.emplace_back(lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
  }
  return size * count;
}

size_t on_body_bytes(char* data, size_t size, size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const size_t n = size * count;
  // Redirect bodies are discarded by curl before this callback; this is the final response.
  if (!report_headers(t)) return 0;
  if (t.request->on_body) {
    if (!t.request->on_body(std::string_view(data, n))) {
      t.aborted = true;
      return 0;
    }
  } else {
    t.response->body.append(data, n);
  }
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto& t = *static_cast<Transfer*>(user);
  if (!t.answer_started && t.request->keep_going && !t.request->keep_going()) {
    t.aborted = true;
    return 1;  // non-zero aborts the transfer
  }
  return 0;
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  const std::string key = lower(name);
  for (const auto& [k, v] : headers) {
    if (k == key) return v;
  }
  return std::nullopt;
}

HttpClient::HttpClient() {
  global_init_once();
  handle_ = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (handle_) curl_easy_cleanup(static_cast<CURL*>(handle_));
}

HttpClient::HttpClient(HttpClient&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}

HttpClient& HttpClient::operator=(HttpClient&& other) noexcept {
  if (this != &other) {
    if (handle_) curl_easy_cleanup(static_cast<CURL*>(handle_));
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

Result<HttpResponse> HttpClient::send(const HttpRequest& request) {
  if (!handle_) return internal_error("curl_easy_init failed");
  CURL* curl = static_cast<CURL*>(handle_);
  curl_easy_reset(curl);  // keeps the connection cache, drops the previous request's options

  HttpResponse response;
  Transfer transfer{&request, &response, curl};

  curl_slist* header_list = nullptr;
  for (const auto& [name, value] : request.headers) {
    header_list = curl_slist_append(header_list, (name + ": " + value).c_str());
  }
  // Bodies we send are JSON or empty; curl's default "Expect: 100-continue" only adds a round trip.
  header_list = curl_slist_append(header_list, "Expect:");

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // we are multi-threaded; no SIGALRM for DNS timeouts
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  // Redirects to another host must not carry credentials (curl's default; stated for the reader).
  curl_easy_setopt(curl, CURLOPT_UNRESTRICTED_AUTH, 0L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout_s * 1000));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout_s * 1000));
  if (request.stall_timeout_s > 0) {
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, std::max(1L, static_cast<long>(request.stall_timeout_s)));
  }
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header_line);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body_bytes);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  if (request.keep_going) {
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  }
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "podserve/" PODSERVE_NET_VERSION);

  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "POST" || request.method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    if (request.method == "PUT") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(header_list);

  if (transfer.aborted) return cancelled("transfer from " + redact_url(request.url) + " aborted by the caller");
  if (rc != CURLE_OK) {
    return unavailable(request.method + " " + redact_url(request.url) + " failed: " + curl_easy_strerror(rc));
  }
  if (!report_headers(transfer)) {  // empty body: headers not reported yet
    return cancelled("transfer from " + redact_url(request.url) + " aborted by the caller");
  }
  char* effective = nullptr;
  curl_easy_getinfo(curl, CURLINFO_EFFECTIVE_URL, &effective);
  if (effective) response.effective_url = effective;
  return response;
}

std::string redact_url(std::string_view url) {
  std::string_view out = url.substr(0, url.find_first_of("?#"));
  std::string result(out);
  // Drop "user:password@" from the authority.
  if (auto scheme = result.find("://"); scheme != std::string::npos) {
    const size_t host = scheme + 3;
    const size_t slash = result.find('/', host);
    const size_t at = result.rfind('@', slash == std::string::npos ? result.size() : slash);
    if (at != std::string::npos && at >= host) result.erase(host, at + 1 - host);
  }
  return result;
}

}  // namespace podserve::net
