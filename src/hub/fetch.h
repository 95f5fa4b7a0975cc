// Getting files of one repo into the cache the way huggingface_hub's hf_hub_download does: HEAD for the etag and
// commit, skip what the cache already holds, else download under the blob's lock into blobs/<etag>.incomplete
// (resumed with Range if a previous run left one), check size and sha256, rename into place, link the snapshot.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "hub/cache.h"
#include "hub/hub_client.h"
#include "hub/progress.h"
#include "hub/settings.h"

namespace podserve::hub {

/// Fetches one file at `commit` (a 40-hex revision) into `cache`; returns its snapshot path.
/// `expected_size` (from the listing, may be empty) is only used for the progress total.
Result<std::string> fetch_file(HubClient& client, const HubCache& cache, const std::string& repo_id,
                               const std::string& commit, const RepoFile& file, Progress* progress);

/// Fetches `files` with up to settings.max_workers parallel downloads. On the first failure the remaining files
/// are not started and that failure is returned (files already placed stay in the cache).
Status fetch_files(const HubSettings& settings, const HubCache& cache, const std::string& repo_id,
                   const std::string& commit, const std::vector<RepoFile>& files, Progress* progress);

}  // namespace podserve::hub
