#include "hub/hub_client.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <thread>

#include "base/log.h"
#include "hub/repo.h"

namespace podserve::hub {
namespace {

constexpr int kMaxRedirects = 10;
constexpr size_t kMaxInfoBytes = 64u << 20;  // a model-info answer larger than this is not a Hub answer
constexpr double kMaxBackoffS = 8;

bool retryable(long status) { return status == 429 || status >= 500; }
bool is_redirect(long status) { return status == 301 || status == 302 || status == 303 || status == 307 || status == 308; }

std::optional<uint64_t> parse_size(const std::optional<std::string>& text) {
  if (!text || text->empty()) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || ptr != text->data() + text->size() || v > (uint64_t{1} << 50)) return std::nullopt;
  return v;
}

// A short, printable excerpt of a server-supplied message.
std::string excerpt(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 300)) out += (c >= ' ' && c < 127) ? c : ' ';
  return out;
}

}  // namespace

Result<std::string> normalize_etag(std::string_view etag) {
  if (etag.starts_with("W/")) etag.remove_prefix(2);
  while (!etag.empty() && etag.front() == '"') etag.remove_prefix(1);
  while (!etag.empty() && etag.back() == '"') etag.remove_suffix(1);
  const bool ok = !etag.empty() && etag.size() <= 128 && etag != "." && etag != ".." &&
                  std::all_of(etag.begin(), etag.end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
                  });
  if (!ok) return data_loss("the server sent an ETag that cannot name a cache file: '" + excerpt(etag) + "'");
  return std::string(etag);
}

Status hub_error(const net::HttpResponse& response, const std::string& url, const std::string& what,
                 bool have_token) {
  const std::string code = response.header("x-error-code").value_or("");
  const std::string server_message = excerpt(response.header("x-error-message").value_or(""));
  const std::string where = " (" + net::redact_url(url) + " answered " + std::to_string(response.status) +
                            (server_message.empty() ? "" : ": " + server_message) + ")";
  const std::string token_advice =
      have_token ? " The HF_TOKEN that was sent is not valid for it or has no access."
                 : " No HF_TOKEN is set: if the repo is private or gated, set HF_TOKEN to a token with access.";
  if (code == "GatedRepo") {
    return Status(StatusCode::kUnauthenticated,
                  what + " is a gated model: accept its conditions on the Hub and use a token with access." +
                      (have_token ? " The HF_TOKEN that was sent has no access." : " No HF_TOKEN is set.") + where);
  }
  if (code == "RepoNotFound") return not_found("Repository not found: " + what + "." + token_advice + where);
  if (code == "RevisionNotFound") return not_found("Revision not found: " + what + where);
  if (code == "EntryNotFound") return not_found("File not found: " + what + where);
  if (response.status == 401 || response.status == 403) {
    return Status(StatusCode::kUnauthenticated, "Access denied to " + what + "." + token_advice + where);
  }
  if (response.status == 404) return not_found("Not found on the Hub: " + what + where);
  if (retryable(response.status)) return unavailable("The Hub failed to answer for " + what + where);
  return unavailable("Unexpected answer for " + what + where);
}

HubClient::HubClient(const HubSettings& settings) : settings_(settings), hub_host_(url_host(settings.endpoint)) {}

net::HeaderList HubClient::headers_for(const std::string& url) const {
  net::HeaderList headers;
  // The token is for the Hub only; a redirect to a CDN carries its own pre-signed credentials.
  if (!settings_.token.empty() && url_host(url) == hub_host_) {
    headers.emplace_back("authorization", "Bearer " + settings_.token);
  }
  return headers;
}

void HubClient::back_off(int attempt) const {
  const double seconds = std::min(kMaxBackoffS, settings_.retry_base_s * double(1 << std::min(attempt, 10)));
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

Result<net::HttpResponse> HubClient::send_retrying(net::HttpRequest request) {
  for (int attempt = 0;; ++attempt) {
    Result<net::HttpResponse> response = http_.send(request);
    const bool last = attempt >= settings_.max_retries;
    if (response.ok() && !retryable(response->status)) return response;
    if (last) {
      if (!response.ok()) {
        return unavailable(response.status().message() + " (gave up after " + std::to_string(attempt + 1) +
                           " attempts; check the network and HF_ENDPOINT)");
      }
      return response;  // the caller turns the final 429/5xx into an error naming the URL
    }
    PODSERVE_LOG(kWarning) << request.method << " " << net::redact_url(request.url) << ": "
                           << (response.ok() ? "HTTP " + std::to_string(response->status)
                                             : response.status().message())
                           << "; retrying (" << attempt + 1 << "/" << settings_.max_retries << ")";
    back_off(attempt);
  }
}

Result<RepoInfo> HubClient::model_info(const std::string& repo_id, const std::string& revision) {
  const std::string url = model_info_url(settings_.endpoint, repo_id, revision);
  net::HttpRequest request;
  request.url = url;
  request.headers = headers_for(url);
  request.timeout_s = std::max(settings_.metadata_timeout_s, 60.0);
  request.connect_timeout_s = settings_.metadata_timeout_s;
  request.follow_redirects = false;
  PODSERVE_ASSIGN_OR_RETURN(net::HttpResponse response, send_retrying(request));
  const std::string what = repo_id + " at revision '" + revision + "'";
  if (response.status != 200) return hub_error(response, url, what, !settings_.token.empty());
  if (response.body.size() > kMaxInfoBytes) return data_loss(net::redact_url(url) + ": answer too large");

  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(response.body, ec);
  const auto* obj = ec ? nullptr : doc.if_object();
  const auto* sha = obj ? obj->if_contains("sha") : nullptr;
  const auto* siblings = obj ? obj->if_contains("siblings") : nullptr;
  if (!sha || !sha->is_string() || !is_commit_hash(sha->as_string()) || !siblings || !siblings->is_array()) {
    return data_loss(net::redact_url(url) + " did not answer with a model's info (commit sha and siblings); "
                     "is HF_ENDPOINT a Hugging Face Hub?");
  }
  RepoInfo info;
  info.commit = std::string(sha->as_string());
  for (const auto& entry : siblings->as_array()) {
    const auto* e = entry.if_object();
    const auto* name = e ? e->if_contains("rfilename") : nullptr;
    if (!name || !name->is_string()) return data_loss(net::redact_url(url) + ": a sibling without rfilename");
    RepoFile file{std::string(name->as_string()), std::nullopt};
    if (const auto* size = e->if_contains("size"); size && size->is_int64() && size->as_int64() >= 0) {
      file.size = static_cast<uint64_t>(size->as_int64());
    }
    if (!validate_repo_path(file.path).ok()) {
      PODSERVE_LOG(kWarning) << "Ignoring a file with an unusable path in " << repo_id << ": " << excerpt(file.path);
      continue;
    }
    info.files.push_back(std::move(file));
  }
  return info;
}

Result<FileMetadata> HubClient::file_metadata(const std::string& repo_id, const std::string& revision,
                                              const std::string& path) {
  std::string url = resolve_url(settings_.endpoint, repo_id, revision, path);
  const std::string what = "'" + path + "' in " + repo_id + " at revision '" + revision + "'";
  for (int hop = 0;; ++hop) {
    net::HttpRequest request;
    request.method = "HEAD";
    request.url = url;
    request.headers = headers_for(url);
    request.headers.emplace_back("accept-encoding", "identity");
    request.timeout_s = settings_.metadata_timeout_s;
    request.connect_timeout_s = settings_.metadata_timeout_s;
    PODSERVE_ASSIGN_OR_RETURN(net::HttpResponse response, send_retrying(request));
    const auto location = response.header("location");
    // Relative redirects are the Hub's own (a renamed repo): follow them with the token. Absolute ones point
    // at the CDN: that is where the file is downloaded from.
    if (is_redirect(response.status) && location && location->starts_with("/") && !location->starts_with("//")) {
      if (hop >= kMaxRedirects) return unavailable(net::redact_url(url) + ": too many redirects");
      url = join_location(url, *location);
      continue;
    }
    if (response.status >= 400) return hub_error(response, url, what, !settings_.token.empty());
    if (response.status >= 300 && !is_redirect(response.status)) {
      return unavailable("Unexpected answer " + std::to_string(response.status) + " from " + net::redact_url(url));
    }
    FileMetadata meta;
    meta.commit = response.header("x-repo-commit").value_or("");
    if (!is_commit_hash(meta.commit)) {
      return data_loss(net::redact_url(url) + " answered without an X-Repo-Commit header: not a Hugging Face Hub "
                       "answer (check HF_ENDPOINT and any proxy)");
    }
    auto etag = response.header("x-linked-etag");
    if (!etag) etag = response.header("etag");
    if (!etag) return data_loss(net::redact_url(url) + " answered without an ETag");
    PODSERVE_ASSIGN_OR_RETURN(meta.etag, normalize_etag(*etag));
    meta.size = parse_size(response.header("x-linked-size"));
    if (!meta.size && !is_redirect(response.status)) meta.size = parse_size(response.header("content-length"));
    meta.download_url = is_redirect(response.status) && location ? join_location(url, *location) : url;
    return meta;
  }
}

Status HubClient::download(const std::string& start_url, uint64_t offset, const DownloadSink& sink,
                           uint64_t* received) {
  *received = offset;
  int failures_without_progress = 0;
  while (true) {
    std::string url = start_url;
    const uint64_t before = *received;
    Status status = ok_status();
    bool done = false;
    for (int hop = 0; hop <= kMaxRedirects && !done && status.ok(); ++hop) {
      long answer = 0;
      std::string next_location;
      Status sink_status = ok_status();
      net::HttpRequest request;
      request.url = url;
      request.headers = headers_for(url);
      if (*received > 0) request.headers.emplace_back("range", "bytes=" + std::to_string(*received) + "-");
      request.timeout_s = 0;
      request.connect_timeout_s = settings_.metadata_timeout_s;
      request.stall_timeout_s = settings_.stall_timeout_s;
      request.on_headers = [&](long code, const net::HeaderList& headers) {
        answer = code;
        if (code == 200 && *received > 0) {  // the server ignored Range: start over
          *received = 0;
          sink_status = sink.restart();
        } else if (code == 206) {  // must continue exactly where we are: "bytes <start>-<end>/<size>"
          std::string range;
          for (const auto& [name, value] : headers) {
            if (name == "content-range") range = value;
          }
          if (!range.starts_with("bytes " + std::to_string(*received) + "-")) {
            sink_status = data_loss(net::redact_url(url) + " answered a range request with Content-Range '" +
                                    excerpt(range) + "', expected to start at byte " + std::to_string(*received));
          }
        }
        return sink_status.ok();
      };
      request.on_body = [&](std::string_view chunk) {
        if (answer != 200 && answer != 206) return true;  // a redirect's or an error's body: not file content
        sink_status = sink.write(chunk);
        if (sink_status.ok()) *received += chunk.size();
        return sink_status.ok();
      };
      Result<net::HttpResponse> response = http_.send(request);
      if (!sink_status.ok()) return sink_status;
      if (!response.ok()) {
        status = response.status();
        break;
      }
      if (is_redirect(response->status)) {
        next_location = response->header("location").value_or("");
        if (next_location.empty()) return unavailable(net::redact_url(url) + " redirected without a Location");
        url = join_location(url, next_location);
        continue;
      }
      if (response->status == 200 || response->status == 206) {
        done = true;
      } else if (response->status == 416) {
        return out_of_range(net::redact_url(url) + " answered 416: the partial download is longer than the file");
      } else if (retryable(response->status)) {
        status = unavailable(net::redact_url(url) + " answered " + std::to_string(response->status));
      } else {
        return hub_error(*response, url, "the download of " + net::redact_url(start_url), !settings_.token.empty());
      }
    }
    if (done) return ok_status();
    if (status.ok()) return unavailable(net::redact_url(start_url) + ": too many redirects");
    // A dropped connection or a 5xx: retry from what we have. Progress resets the budget of attempts.
    failures_without_progress = *received > before ? 1 : failures_without_progress + 1;
    if (failures_without_progress > settings_.max_retries) {
      return unavailable("Download of " + net::redact_url(start_url) + " failed: " + status.message() + " (after " +
                         std::to_string(settings_.max_retries) + " retries)");
    }
    PODSERVE_LOG(kWarning) << "Download of " << net::redact_url(start_url) << " interrupted at " << *received
                           << " bytes (" << status.message() << "); resuming";
    back_off(failures_without_progress - 1);
  }
}

}  // namespace podserve::hub
