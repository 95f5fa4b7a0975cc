#include "hub/cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <utility>

#include "base/log.h"
#include "hub/repo.h"

namespace podserve::hub {
namespace {

constexpr std::string_view kCacheDirTag =
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by huggingface_hub.\n"
    "# For information about cache directory tags, see:\n"
    "#\thttps://bford.info/cachedir/\n";

std::string errno_text() { return std::strerror(errno); }

std::string parent_dir(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string random_hex8() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static const char kHex[] = "0123456789abcdef";
  std::string out(8, '0');
  for (char& c : out) c = kHex[rng() & 15];
  return out;
}

}  // namespace

std::string repo_folder_name(std::string_view repo_id) {
  std::string name = "models";
  size_t start = 0;
  while (true) {
    const size_t slash = repo_id.find('/', start);
    name += "--";
    name += repo_id.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (slash == std::string_view::npos) return name;
    start = slash + 1;
  }
}

std::string HubCache::blob_path(std::string_view repo_id, std::string_view etag) const {
  return repo_dir(repo_id) + "/blobs/" + std::string(etag);
}

std::string HubCache::snapshot_dir(std::string_view repo_id, std::string_view commit) const {
  return repo_dir(repo_id) + "/snapshots/" + std::string(commit);
}

std::string HubCache::snapshot_path(std::string_view repo_id, std::string_view commit, std::string_view file) const {
  return snapshot_dir(repo_id, commit) + "/" + std::string(file);
}

std::string HubCache::ref_path(std::string_view repo_id, std::string_view revision) const {
  return repo_dir(repo_id) + "/refs/" + std::string(revision);
}

std::string HubCache::lock_path(std::string_view repo_id, std::string_view etag) const {
  return root_ + "/.locks/" + repo_folder_name(repo_id) + "/" + std::string(etag) + ".lock";
}

std::optional<std::string> HubCache::resolve_revision(std::string_view repo_id, std::string_view revision) const {
  if (is_commit_hash(revision)) return std::string(revision);
  std::ifstream f(ref_path(repo_id, revision));
  if (!f) return std::nullopt;
  std::stringstream content;
  content << f.rdbuf();
  std::string commit = content.str();
  while (!commit.empty() && (commit.back() == '\n' || commit.back() == '\r')) commit.pop_back();
  if (!is_commit_hash(commit)) return std::nullopt;  // a torn or foreign file: treat as not cached
  return commit;
}

Status HubCache::write_ref(std::string_view repo_id, std::string_view revision, std::string_view commit) const {
  if (revision == commit) return ok_status();
  if (auto current = resolve_revision(repo_id, revision); current && *current == commit) return ok_status();
  const std::string path = ref_path(repo_id, revision);
  PODSERVE_RETURN_IF_ERROR(make_dirs(parent_dir(path)));
  const std::string tmp = path + "." + random_hex8() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << commit;
    if (!f.flush()) return unavailable("cannot write " + tmp + ": " + errno_text());
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string err = errno_text();
    ::unlink(tmp.c_str());
    return unavailable("cannot rename " + tmp + " to " + path + ": " + err);
  }
  return ok_status();
}

Status HubCache::link_snapshot(std::string_view repo_id, std::string_view commit, std::string_view file,
                               std::string_view etag) const {
  const std::string link = snapshot_path(repo_id, commit, file);
  PODSERVE_RETURN_IF_ERROR(make_dirs(parent_dir(link)));
  // From snapshots/<commit>/<dirs...>/ back up to the repo folder: two levels plus one per subfolder.
  std::string target = "../../";
  for (char c : file) {
    if (c == '/') target += "../";
  }
  target += "blobs/" + std::string(etag);
  // Replace atomically: a new link under a temporary name, renamed over the old one.
  const std::string tmp = link + "." + random_hex8() + ".tmp";
  if (::symlink(target.c_str(), tmp.c_str()) != 0) {
    return unavailable("cannot create the symlink " + link + ": " + errno_text());
  }
  if (std::rename(tmp.c_str(), link.c_str()) != 0) {
    const std::string err = errno_text();
    ::unlink(tmp.c_str());
    return unavailable("cannot create the symlink " + link + ": " + err);
  }
  return ok_status();
}

Status HubCache::prepare(std::string_view repo_id, std::string_view commit) const {
  PODSERVE_RETURN_IF_ERROR(make_dirs(repo_dir(repo_id) + "/blobs"));
  PODSERVE_RETURN_IF_ERROR(make_dirs(snapshot_dir(repo_id, commit)));
  PODSERVE_RETURN_IF_ERROR(make_dirs(root_ + "/.locks/" + repo_folder_name(repo_id)));
  const std::string tag = root_ + "/CACHEDIR.TAG";
  struct stat st {};
  if (::stat(tag.c_str(), &st) != 0) {
    std::ofstream f(tag, std::ios::binary);
    f << kCacheDirTag;  // best effort, as huggingface_hub
  }
  return ok_status();
}

Result<FileLock> FileLock::acquire(const std::string& path) {
  PODSERVE_RETURN_IF_ERROR(make_dirs(parent_dir(path)));
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0664);
  if (fd < 0) return unavailable("cannot open the lock file " + path + ": " + errno_text());
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return FileLock(fd);
  PODSERVE_LOG(kInfo) << "Waiting for another process that is downloading the same file (lock " << path << ")";
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const std::string err = errno_text();
    ::close(fd);
    return unavailable("cannot lock " + path + ": " + err);
  }
  return FileLock(fd);
}

FileLock::FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the flock
}

Status make_dirs(const std::string& path) {
  if (path.empty()) return ok_status();
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return ok_status();
    return unavailable("cannot create the directory " + path + ": a file is in the way");
  }
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    const std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0777) != 0 && errno != EEXIST) {
      return unavailable("cannot create the directory " + prefix + ": " + errno_text());
    }
  }
  return ok_status();
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace podserve::hub
