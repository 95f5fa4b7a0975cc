#include "hub/repo.h"

#include <algorithm>
#include <cctype>

namespace podserve::hub {
namespace {

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

// Splits on '/', calling f(component) for each; stops at the first false.
template <typename F>
bool each_component(std::string_view path, F f) {
  size_t start = 0;
  while (true) {
    const size_t slash = path.find('/', start);
    if (!f(path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start))) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

Status check_relative_path(std::string_view path, std::string_view what) {
  if (path.empty()) return invalid_argument(std::string(what) + " is empty");
  if (path.size() > 4096) return invalid_argument(std::string(what) + " is longer than 4096 bytes");
  if (path.find('\\') != std::string_view::npos || path.find('\0') != std::string_view::npos) {
    return invalid_argument(std::string(what) + " '" + std::string(path) + "' contains a backslash or NUL");
  }
  const bool ok = each_component(path, [](std::string_view c) { return !c.empty() && c != "." && c != ".."; });
  if (!ok) {
    return invalid_argument(std::string(what) + " '" + std::string(path) +
                            "' must be a relative path without empty, '.' or '..' components");
  }
  return ok_status();
}

}  // namespace

Status validate_repo_id(std::string_view repo_id) {
  auto bad = [&](const std::string& why) {
    return invalid_argument("'" + std::string(repo_id) + "' is not a valid Hugging Face repo id (" + why + ")");
  };
  if (repo_id.empty() || repo_id.size() > 96) return bad("it must have 1 to 96 characters");
  if (std::count(repo_id.begin(), repo_id.end(), '/') > 1) return bad("expected 'name' or 'namespace/name'");
  if (repo_id.find("--") != std::string_view::npos || repo_id.find("..") != std::string_view::npos) {
    return bad("'--' and '..' are not allowed");
  }
  const bool ok = each_component(repo_id, [](std::string_view part) {
    return !part.empty() && std::all_of(part.begin(), part.end(), is_name_char) && part.front() != '-' &&
           part.front() != '.' && part.back() != '-' && part.back() != '.';
  });
  if (!ok) return bad("letters, digits, '_', '-' and '.' only, not starting or ending with '-' or '.'");
  return ok_status();
}

Status validate_revision(std::string_view revision) { return check_relative_path(revision, "revision"); }

Status validate_repo_path(std::string_view path) { return check_relative_path(path, "file path"); }

bool is_commit_hash(std::string_view s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Result<ModelRef> parse_model_ref(std::string_view spec) {
  ModelRef ref;
  const size_t colon = spec.find(':');
  ref.repo_id = std::string(spec.substr(0, colon));
  if (colon != std::string_view::npos) {
    ref.gguf_file = std::string(spec.substr(colon + 1));
    PODSERVE_RETURN_IF_ERROR(validate_repo_path(ref.gguf_file));
  }
  PODSERVE_RETURN_IF_ERROR(validate_repo_id(ref.repo_id));
  return ref;
}

std::string url_quote(std::string_view s, std::string_view keep) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || keep.find(c) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string resolve_url(std::string_view endpoint, const std::string& repo_id, const std::string& revision,
                        const std::string& path) {
  return std::string(endpoint) + "/" + repo_id + "/resolve/" + url_quote(revision) + "/" + url_quote(path, "/");
}

std::string model_info_url(std::string_view endpoint, const std::string& repo_id, const std::string& revision) {
  return std::string(endpoint) + "/api/models/" + repo_id + "/revision/" + url_quote(revision) + "?blobs=true";
}

std::string url_host(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  std::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  std::string host(rest);
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
  return host;
}

std::string join_location(std::string_view base, std::string_view location) {
  if (location.find("://") != std::string_view::npos) return std::string(location);
  const size_t scheme = base.find("://");
  if (scheme == std::string_view::npos) return std::string(location);
  if (location.starts_with("//")) return std::string(base.substr(0, scheme + 1)) + std::string(location);
  const size_t path_start = base.find('/', scheme + 3);
  const std::string origin(base.substr(0, path_start));
  if (location.starts_with("/")) return origin + std::string(location);
  // Relative to the base's directory (the Hub does not send these, but a proxy might).
  std::string_view base_path = path_start == std::string_view::npos ? "/" : base.substr(path_start);
  base_path = base_path.substr(0, base_path.find_first_of("?#"));
  return origin + std::string(base_path.substr(0, base_path.rfind('/') + 1)) + std::string(location);
}

}  // namespace podserve::hub
