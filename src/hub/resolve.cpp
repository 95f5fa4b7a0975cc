#include "hub/resolve.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "base/log.h"
#include "hub/cache.h"
#include "hub/fetch.h"
#include "hub/hub_client.h"
#include "hub/progress.h"
#include "hub/repo.h"

namespace podserve::hub {
namespace {

namespace fs = std::filesystem;

// Every file under a snapshot directory whose link resolves, as repo paths.
std::vector<std::string> snapshot_files(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code file_ec;
    if (fs::is_regular_file(it->path(), file_ec)) out.push_back(it->path().lexically_relative(dir).generic_string());  // not relative(): it follows links
  }
  return out;
}

// The model in one cache root, if that cache holds every file it needs.
std::optional<ResolvedModel> find_cached(const HubCache& cache, const std::string& repo_id, const std::string& revision,
                                         const std::string& gguf_file, SelectMode mode, std::string* why_not) {
  const auto commit = cache.resolve_revision(repo_id, revision);
  if (!commit) return std::nullopt;
  const std::string dir = cache.snapshot_dir(repo_id, *commit);
  Result<Selection> sel = select_files(repo_id, snapshot_files(dir), gguf_file, mode);
  if (!sel.ok()) {
    *why_not = dir + ": " + sel.status().message();
    return std::nullopt;
  }
  if (!sel->weights_index.empty()) {
    auto shards = shards_from_index(dir + "/" + sel->weights_index, sel->weights_index);
    if (!shards.ok()) {
      *why_not = shards.status().message();
      return std::nullopt;
    }
    for (const auto& shard : *shards) {
      if (!file_exists(dir + "/" + shard)) {
        *why_not = dir + " lacks " + shard;
        return std::nullopt;
      }
    }
  }
  ResolvedModel model{sel->gguf_file.empty() ? dir : dir + "/" + sel->gguf_file, true, repo_id, *commit};
  return model;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::vector<RepoFile> with_sizes(const std::vector<std::string>& paths, const RepoInfo& info) {
  std::vector<RepoFile> out;
  for (const auto& p : paths) {
    auto it = std::find_if(info.files.begin(), info.files.end(), [&](const RepoFile& f) { return f.path == p; });
    out.push_back(it != info.files.end() ? *it : RepoFile{p, std::nullopt});
  }
  return out;
}

Result<ResolvedModel> download(const ModelRef& ref, SelectMode mode, const HubSettings& settings) {
  HubClient client(settings);
  PODSERVE_ASSIGN_OR_RETURN(RepoInfo info, client.model_info(ref.repo_id, ref.revision));
  std::vector<std::string> names;
  for (const auto& f : info.files) names.push_back(f.path);
  PODSERVE_ASSIGN_OR_RETURN(Selection sel, select_files(ref.repo_id, names, ref.gguf_file, mode));
  const HubCache cache(settings.cache_dir);
  PODSERVE_RETURN_IF_ERROR(cache.prepare(ref.repo_id, info.commit));
  PODSERVE_RETURN_IF_ERROR(cache.write_ref(ref.repo_id, ref.revision, info.commit));
  PODSERVE_LOG(kInfo) << "Fetching " << sel.files.size() << " file(s) of " << ref.repo_id << " (revision "
                      << ref.revision << ", commit " << info.commit << ") into " << settings.cache_dir;
  Progress progress(ref.repo_id, Progress::stderr_is_tty());
  PODSERVE_RETURN_IF_ERROR(fetch_files(settings, cache, ref.repo_id, info.commit, with_sizes(sel.files, info), &progress));
  const std::string dir = cache.snapshot_dir(ref.repo_id, info.commit);
  if (!sel.weights_index.empty()) {
    PODSERVE_ASSIGN_OR_RETURN(auto shards, shards_from_index(dir + "/" + sel.weights_index, sel.weights_index));
    PODSERVE_RETURN_IF_ERROR(fetch_files(settings, cache, ref.repo_id, info.commit, with_sizes(shards, info), &progress));
  }
  progress.finish();
  return ResolvedModel{sel.gguf_file.empty() ? dir : dir + "/" + sel.gguf_file, true, ref.repo_id, info.commit};
}

}  // namespace

bool is_local_spec(const std::string& spec) {
  struct stat st {};
  if (::stat(spec.c_str(), &st) == 0) return true;
  if (spec.starts_with("/") || spec.starts_with("./") || spec.starts_with("../") || spec.starts_with("~")) return true;
  return spec.ends_with(".gguf") && spec.find(':') == std::string::npos;
}

Result<ResolvedModel> resolve_model(const ResolveRequest& request, const HubSettings& settings) {
  if (is_local_spec(request.spec)) {
    struct stat st {};
    if (::stat(request.spec.c_str(), &st) != 0) return not_found("Model path " + request.spec + " does not exist");
    return ResolvedModel{request.spec, false, "", ""};
  }
  auto parsed = parse_model_ref(request.spec);
  if (!parsed.ok()) {
    return invalid_argument("Model '" + request.spec +
                            "' is neither an existing file or directory nor a Hugging Face repo id: " +
                            parsed.status().message());
  }
  ModelRef ref = std::move(parsed).value();
  if (!request.revision.empty()) ref.revision = request.revision;
  if (!request.gguf_file.empty()) ref.gguf_file = request.gguf_file;
  PODSERVE_RETURN_IF_ERROR(validate_revision(ref.revision));
  if (!ref.gguf_file.empty()) PODSERVE_RETURN_IF_ERROR(validate_repo_path(ref.gguf_file));

  std::string why_not;
  if (!request.check_hub || settings.offline) {
    for (const auto& dir : settings.lookup_dirs) {
      // RunPod's cached models may use lower-cased folder names (the vLLM worker probes them too).
      for (const std::string& id : {ref.repo_id, lower(ref.repo_id)}) {
        if (auto found = find_cached(HubCache(dir), id, ref.revision, ref.gguf_file, request.mode, &why_not)) {
          PODSERVE_LOG(kInfo) << "Using " << ref.repo_id << " from the cache: " << found->local_path;
          found->repo_id = ref.repo_id;
          return *found;
        }
      }
    }
  }
  if (settings.offline) {
    std::string dirs;
    for (const auto& dir : settings.lookup_dirs) dirs += (dirs.empty() ? "" : ", ") + dir;
    return not_found(ref.repo_id + " (revision " + ref.revision + ") is not complete in the cache (" + dirs + ")" +
                     (why_not.empty() ? "" : ": " + why_not) +
                     ", and HF_HUB_OFFLINE=1 forbids downloading it. Run `podserve download " + ref.repo_id +
                     "` with network access first, or unset HF_HUB_OFFLINE.");
  }
  return download(ref, request.mode, settings);
}

}  // namespace podserve::hub
