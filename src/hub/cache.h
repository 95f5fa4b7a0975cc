// The Hugging Face cache on disk, laid out exactly as huggingface_hub writes it, so both share one cache:
//   <root>/models--org--name/blobs/<etag>                 file content, named by its ETag
//   <root>/models--org--name/refs/<revision>              the commit a branch/tag pointed to (no newline)
//   <root>/models--org--name/snapshots/<commit>/<path>    relative symlink -> ../../blobs/<etag>
//   <root>/.locks/models--org--name/<etag>.lock            flock(2) while a blob is downloaded
//   <root>/CACHEDIR.TAG
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace podserve::hub {

/// "models--org--name" (huggingface_hub's repo_folder_name for a model repo).
std::string repo_folder_name(std::string_view repo_id);

/// Paths inside one cache root. Names passed in are validated by the caller (hub/repo.h).
class HubCache {
 public:
  explicit HubCache(std::string root) : root_(std::move(root)) {}
  const std::string& root() const { return root_; }

  std::string repo_dir(std::string_view repo_id) const { return root_ + "/" + repo_folder_name(repo_id); }
  std::string blob_path(std::string_view repo_id, std::string_view etag) const;
  std::string snapshot_dir(std::string_view repo_id, std::string_view commit) const;
  std::string snapshot_path(std::string_view repo_id, std::string_view commit, std::string_view file) const;
  std::string ref_path(std::string_view repo_id, std::string_view revision) const;
  std::string lock_path(std::string_view repo_id, std::string_view etag) const;

  /// The commit for `revision`: itself when it is a commit hash, else the content of refs/<revision>.
  std::optional<std::string> resolve_revision(std::string_view repo_id, std::string_view revision) const;

  /// Writes refs/<revision> = commit atomically (temp file + rename) unless it already says so; no-op for commits.
  Status write_ref(std::string_view repo_id, std::string_view revision, std::string_view commit) const;

  /// Points snapshots/<commit>/<file> at blobs/<etag> with a relative symlink (replacing what was there).
  Status link_snapshot(std::string_view repo_id, std::string_view commit, std::string_view file,
                       std::string_view etag) const;

  /// Creates blobs/, snapshots/<commit>/, .locks/<repo>/ and CACHEDIR.TAG as needed.
  Status prepare(std::string_view repo_id, std::string_view commit) const;

 private:
  std::string root_;
};

/// Exclusive flock(2) on a lock file, held until destruction (the same lock huggingface_hub's filelock takes).
class FileLock {
 public:
  static Result<FileLock> acquire(const std::string& path);
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

/// mkdir -p; an error names the directory.
Status make_dirs(const std::string& path);

/// True when `path` exists and, if it is a symlink, its target exists too.
bool file_exists(const std::string& path);

}  // namespace podserve::hub
