// The Hub's HTTP protocol: model info (commit + file list), per-file metadata (HEAD on the resolve URL, redirects
// not followed), and downloads (GET, following redirects ourselves so the token only ever goes to the Hub's own
// host, never to the CDN it redirects to). Retries connection errors, 429 and 5xx with back-off; maps the Hub's
// error answers (X-Error-Code) to clear messages that name the URL but never the token.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "hub/settings.h"
#include "net/http_client.h"

namespace podserve::hub {

struct RepoFile {
  std::string path;
  std::optional<uint64_t> size;
};

struct RepoInfo {
  std::string commit;            // 40-hex sha the revision points to
  std::vector<RepoFile> files;   // every file in the repo at that commit
};

struct FileMetadata {
  std::string commit;               // X-Repo-Commit
  std::string etag;                 // X-Linked-Etag (sha256 of LFS content) else ETag (git blob sha1), normalized
  std::optional<uint64_t> size;     // X-Linked-Size, else Content-Length of a non-redirect answer
  std::string download_url;         // Location of a redirect, else the resolve URL
};

/// Receives a download's body. `restart` is called when the server ignored our Range and sends from byte 0.
struct DownloadSink {
  std::function<Status(std::string_view chunk)> write;
  std::function<Status()> restart;
};

/// One per thread (it owns a curl handle). Copies the settings it needs.
class HubClient {
 public:
  explicit HubClient(const HubSettings& settings);

  Result<RepoInfo> model_info(const std::string& repo_id, const std::string& revision);
  Result<FileMetadata> file_metadata(const std::string& repo_id, const std::string& revision,
                                     const std::string& path);

  /// GETs `url` from byte `offset` into `sink`, following up to 10 redirects. A connection that breaks off is
  /// retried from the bytes already received (Range), with back-off, up to max_retries times in a row without
  /// progress. `received` is updated as bytes arrive (for resume bookkeeping by the caller).
  Status download(const std::string& url, uint64_t offset, const DownloadSink& sink, uint64_t* received);

 private:
  net::HeaderList headers_for(const std::string& url) const;
  // Sends with retries on connection errors, 429 and 5xx; `what` names the request in errors.
  Result<net::HttpResponse> send_retrying(net::HttpRequest request);
  void back_off(int attempt) const;

  HubSettings settings_;
  std::string hub_host_;
  net::HttpClient http_;
};

/// Turns a Hub error answer into a Status: RepoNotFound / RevisionNotFound / EntryNotFound / GatedRepo (from
/// X-Error-Code) or the HTTP status, with advice about HF_TOKEN where it applies. `what` names the object asked for.
Status hub_error(const net::HttpResponse& response, const std::string& url, const std::string& what,
                 bool have_token);

/// Strips W/ and quotes from an ETag and checks it can be a file name ([A-Za-z0-9._-], 1..128 characters).
Result<std::string> normalize_etag(std::string_view etag);

}  // namespace podserve::hub
