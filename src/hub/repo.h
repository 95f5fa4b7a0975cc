// Names on the Hub: repo ids, revisions, file paths inside a repo, and the URLs built from them. Everything that
// comes from a user or from a Hub answer is validated here before it becomes a path on disk or part of a URL.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace podserve::hub {

inline constexpr std::string_view kDefaultRevision = "main";

/// A model on the Hub as the user named it: `org/name` (+ revision) and optionally one file to take from it
/// (`org/name:file.gguf` or --gguf-file).
struct ModelRef {
  std::string repo_id;
  std::string revision = std::string(kDefaultRevision);
  std::string gguf_file;  // "" = pick the files a model needs
};

/// huggingface_hub's validate_repo_id: `name` or `namespace/name` of [A-Za-z0-9_.-], at most 96 characters, no
/// "--" or "..", not starting or ending with '-' or '.'.
Status validate_repo_id(std::string_view repo_id);

/// A revision is a branch, tag, `refs/pr/N` or commit; it becomes refs/<revision> in the cache, so it must be a
/// relative path without "." / ".." components, empty components or backslashes.
Status validate_revision(std::string_view revision);

/// A file path inside a repo (from the user or the Hub's listing): relative, '/'-separated, no "."/".."/empty
/// components, no backslash or NUL, at most 4096 bytes. Guards every path we create under snapshots/.
Status validate_repo_path(std::string_view path);

/// True for a 40-character lower-case hex string (a commit hash, which needs no refs/ lookup).
bool is_commit_hash(std::string_view s);

/// Splits `org/name[:file]` into a ModelRef (revision left at its default) and validates it.
Result<ModelRef> parse_model_ref(std::string_view spec);

/// Percent-encodes everything but unreserved characters; `keep` lists more characters to leave as they are
/// (Python's urllib.parse.quote with safe=keep).
std::string url_quote(std::string_view s, std::string_view keep = "");

/// {endpoint}/{repo_id}/resolve/{revision}/{path}: revision quoted with safe="", the path keeping '/'.
std::string resolve_url(std::string_view endpoint, const std::string& repo_id, const std::string& revision,
                        const std::string& path);

/// {endpoint}/api/models/{repo_id}/revision/{revision}?blobs=true: the commit and the file list with sizes.
std::string model_info_url(std::string_view endpoint, const std::string& repo_id, const std::string& revision);

/// The host[:port] of a URL, lower-cased ("" when it has none); used to keep the token on the Hub's host.
std::string url_host(std::string_view url);

/// Resolves a Location header against the URL that sent it (absolute, scheme-relative or path-absolute).
std::string join_location(std::string_view base, std::string_view location);

}  // namespace podserve::hub
