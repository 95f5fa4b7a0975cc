#include "hub/fetch.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "base/log.h"
#include "hub/sha256.h"

namespace podserve::hub {
namespace {

bool is_sha256(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// The partial file being written: its descriptor, length and running hash.
struct PartialFile {
  int fd = -1;
  uint64_t size = 0;
  Sha256 hash;
  ~PartialFile() {
    if (fd >= 0) ::close(fd);
  }
};

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return unavailable("cannot write " + path + ": " + std::strerror(errno));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return ok_status();
}

// Opens blobs/<etag>.incomplete for appending and hashes what a previous run left in it.
Status open_partial(const std::string& path, PartialFile* partial) {
  partial->fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (partial->fd < 0) return unavailable("cannot open " + path + ": " + std::strerror(errno));
  std::string buf(1 << 20, '\0');
  while (true) {
    const ssize_t n = ::read(partial->fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return unavailable("cannot read " + path + ": " + std::strerror(errno));
    if (n == 0) break;
    partial->hash.update(buf.data(), static_cast<size_t>(n));
    partial->size += static_cast<uint64_t>(n);
  }
  return ok_status();
}

Status download_blob(HubClient& client, const HubCache& cache, const std::string& repo_id,
                     const FileMetadata& meta, const std::string& path, Progress* progress) {
  const std::string blob = cache.blob_path(repo_id, meta.etag);
  const std::string incomplete = blob + ".incomplete";
  PartialFile partial;
  PODSERVE_RETURN_IF_ERROR(open_partial(incomplete, &partial));
  if (meta.size && partial.size > *meta.size) {  // not a prefix of this file: start over
    if (::ftruncate(partial.fd, 0) != 0) return unavailable("cannot truncate " + incomplete);
    partial.size = 0;
    partial.hash = Sha256();
  }
  if (partial.size > 0) {
    PODSERVE_LOG(kInfo) << "Resuming " << repo_id << "/" << path << " at " << human_bytes(partial.size);
  }
  if (progress) progress->advance(partial.size);
  DownloadSink sink;
  sink.write = [&](std::string_view chunk) -> Status {
    PODSERVE_RETURN_IF_ERROR(write_all(partial.fd, chunk, incomplete));
    partial.hash.update(chunk);
    partial.size += chunk.size();
    if (progress) progress->advance(chunk.size());
    return ok_status();
  };
  sink.restart = [&]() -> Status {
    if (::ftruncate(partial.fd, 0) != 0 || ::lseek(partial.fd, 0, SEEK_SET) != 0) {
      return unavailable("cannot truncate " + incomplete);
    }
    partial.size = 0;
    partial.hash = Sha256();
    return ok_status();
  };
  ::lseek(partial.fd, 0, SEEK_END);
  uint64_t received = 0;
  const bool complete_already = meta.size && partial.size == *meta.size && partial.size > 0;
  if (!complete_already) {
    Status status = client.download(meta.download_url, partial.size, sink, &received);
    if (status.code() == StatusCode::kOutOfRange) {  // 416: our partial file is not a prefix; start over once
      PODSERVE_RETURN_IF_ERROR(sink.restart());
      status = client.download(meta.download_url, 0, sink, &received);
    }
    PODSERVE_RETURN_IF_ERROR(status);
  }
  if (::fsync(partial.fd) != 0) return unavailable("cannot flush " + incomplete + ": " + std::strerror(errno));
  // A wrong file must not enter the cache, and a wrong partial file must not be resumed again.
  auto reject = [&](const std::string& why) {
    ::unlink(incomplete.c_str());
    return data_loss("Download of '" + path + "' from " + repo_id + " is corrupt: " + why);
  };
  if (meta.size && partial.size != *meta.size) {
    return reject("got " + std::to_string(partial.size) + " bytes, expected " + std::to_string(*meta.size));
  }
  if (is_sha256(meta.etag)) {
    const std::string digest = partial.hash.hex_digest();
    if (digest != meta.etag) return reject("sha256 " + digest + " does not match the ETag " + meta.etag);
  }
  if (std::rename(incomplete.c_str(), blob.c_str()) != 0) {
    return unavailable("cannot rename " + incomplete + " to " + blob + ": " + std::strerror(errno));
  }
  return ok_status();
}

}  // namespace

Result<std::string> fetch_file(HubClient& client, const HubCache& cache, const std::string& repo_id,
                               const std::string& commit, const RepoFile& file, Progress* progress) {
  const std::string pointer = cache.snapshot_path(repo_id, commit, file.path);
  if (file_exists(pointer)) {  // a commit is immutable: a cached file is the file
    if (progress && file.size) progress->advance(*file.size);
    return pointer;
  }
  PODSERVE_ASSIGN_OR_RETURN(FileMetadata meta, client.file_metadata(repo_id, commit, file.path));
  if (!meta.size) meta.size = file.size;  // the listing's size, when the answer had no length
  if (meta.commit != commit) {
    return data_loss("The Hub answered for commit " + meta.commit + " when asked for " + commit + " (" + file.path +
                     ")");
  }
  PODSERVE_RETURN_IF_ERROR(cache.prepare(repo_id, commit));
  const std::string blob = cache.blob_path(repo_id, meta.etag);
  if (progress && meta.size && !file.size) progress->add_total(*meta.size);  // else counted from the listing
  if (!file_exists(blob)) {
    PODSERVE_ASSIGN_OR_RETURN(FileLock lock, FileLock::acquire(cache.lock_path(repo_id, meta.etag)));
    if (!file_exists(blob)) {  // another process may have finished it while we waited for the lock
      PODSERVE_LOG(kDebug) << "Downloading " << repo_id << "/" << file.path;
      PODSERVE_RETURN_IF_ERROR(download_blob(client, cache, repo_id, meta, file.path, progress));
    } else if (progress && meta.size) {
      progress->advance(*meta.size);
    }
  } else if (progress && meta.size) {
    progress->advance(*meta.size);
  }
  PODSERVE_RETURN_IF_ERROR(cache.link_snapshot(repo_id, commit, file.path, meta.etag));
  return pointer;
}

Status fetch_files(const HubSettings& settings, const HubCache& cache, const std::string& repo_id,
                   const std::string& commit, const std::vector<RepoFile>& files, Progress* progress) {
  if (progress) {
    for (const RepoFile& f : files) progress->add_total(f.size.value_or(0));
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  Status first_error = ok_status();
  auto worker = [&] {
    HubClient client(settings);
    while (!failed.load()) {
      const size_t i = next.fetch_add(1);
      if (i >= files.size()) return;
      Result<std::string> placed = fetch_file(client, cache, repo_id, commit, files[i], progress);
      if (!placed.ok()) {
        std::lock_guard lock(mu);
        if (first_error.ok()) first_error = placed.status();
        failed.store(true);
      }
    }
  };
  const size_t threads = std::min<size_t>(files.size(), static_cast<size_t>(std::max(1, settings.max_workers)));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  return first_error;
}

}  // namespace podserve::hub
