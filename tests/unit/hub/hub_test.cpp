// Hub layer pieces that need no network: SHA-256 against the FIPS 180-4 example vectors, name validation (paths
// from users and Hub answers never escape the cache), URL building, the cache's ref/symlink layout, file choice.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "hub/cache.h"
#include "hub/hub_client.h"
#include "hub/repo.h"
#include "hub/select_files.h"
#include "hub/settings.h"
#include "hub/sha256.h"

namespace podserve::hub {
namespace {

std::string sha256_of(std::string_view s) {
  Sha256 h;
  h.update(s);
  return h.hex_digest();
}

TEST(Sha256, FipsExamples) {
  EXPECT_EQ(sha256_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // One million 'a', fed in uneven pieces to cross block boundaries.
  Sha256 h;
  const std::string chunk(997, 'a');
  size_t left = 1000000;
  while (left > 0) {
    const size_t n = std::min(left, chunk.size());
    h.update(chunk.data(), n);
    left -= n;
  }
  EXPECT_EQ(h.hex_digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Names, RepoIds) {
  EXPECT_TRUE(validate_repo_id("HuggingFaceTB/SmolLM2-135M-Instruct").ok());
  EXPECT_TRUE(validate_repo_id("gpt2").ok());
  for (const char* bad : {"", "a/b/c", "../x", "org/..", "org/a--b", "-org/x", "org/x.", "org/x y", "/x", "org/"}) {
    EXPECT_FALSE(validate_repo_id(bad).ok()) << bad;
  }
  EXPECT_EQ(validate_repo_id(std::string(97, 'a')).code(), StatusCode::kInvalidArgument);
}

TEST(Names, PathsInsideTheRepoOnly) {
  EXPECT_TRUE(validate_repo_path("model.safetensors").ok());
  EXPECT_TRUE(validate_repo_path("sub/dir/file.json").ok());
  for (const char* bad : {"", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a/.", "a\\b", "a/"}) {
    EXPECT_FALSE(validate_repo_path(bad).ok()) << bad;
  }
  EXPECT_TRUE(validate_revision("refs/pr/1").ok());
  EXPECT_FALSE(validate_revision("../../etc").ok());
}

TEST(Names, ModelRef) {
  auto ref = parse_model_ref("org/name:sub/model-Q4_0.gguf");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->repo_id, "org/name");
  EXPECT_EQ(ref->gguf_file, "sub/model-Q4_0.gguf");
  EXPECT_EQ(ref->revision, "main");
  EXPECT_FALSE(parse_model_ref("org/name:../x.gguf").ok());
  EXPECT_TRUE(is_commit_hash("0123456789abcdef0123456789abcdef01234567"));
  EXPECT_FALSE(is_commit_hash("main"));
}

TEST(Urls, ResolveAndInfo) {
  EXPECT_EQ(resolve_url("https://huggingface.co", "org/name", "refs/pr/1", "sub dir/a+b.json"),
            "https://huggingface.co/org/name/resolve/refs%2Fpr%2F1/sub%20dir/a%2Bb.json");
  EXPECT_EQ(model_info_url("http://127.0.0.1:5000", "org/name", "v1.0"),
            "http://127.0.0.1:5000/api/models/org/name/revision/v1.0?blobs=true");
  EXPECT_EQ(url_host("https://user@Cdn.Example.com:8443/path?q"), "cdn.example.com:8443");
  EXPECT_EQ(join_location("http://hub:1/org/x/resolve/main/f", "/api/y"), "http://hub:1/api/y");
  EXPECT_EQ(join_location("http://hub:1/a", "https://cdn/b"), "https://cdn/b");
  EXPECT_EQ(join_location("https://hub/a", "//cdn/b"), "https://cdn/b");
}

TEST(Etags, NormalizedAndSafe) {
  EXPECT_EQ(*normalize_etag("W/\"abc123\""), "abc123");
  EXPECT_EQ(*normalize_etag("\"deadbeef\""), "deadbeef");
  EXPECT_FALSE(normalize_etag("\"../../x\"").ok());
  EXPECT_FALSE(normalize_etag("\"\"").ok());
}

TEST(Settings, CacheDirPrecedence) {
  std::map<std::string, std::string> vars{{"HOME", "/home/u"}};
  auto env = [&](std::string_view n) -> std::optional<std::string> {
    auto it = vars.find(std::string(n));
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  EXPECT_EQ(hub_settings_from_env(env)->cache_dir, "/home/u/.cache/huggingface/hub");
  vars["BASE_PATH"] = "/runpod-volume";
  EXPECT_EQ(hub_settings_from_env(env)->cache_dir, "/runpod-volume/huggingface-cache/hub");
  vars["HF_HOME"] = "/hf";
  EXPECT_EQ(hub_settings_from_env(env)->cache_dir, "/hf/hub");
  EXPECT_EQ(hub_settings_from_env(env)->lookup_dirs.size(), 2u);  // + the BASE_PATH cache
  vars["HUGGINGFACE_HUB_CACHE"] = "/legacy";
  EXPECT_EQ(hub_settings_from_env(env)->cache_dir, "/legacy");
  vars["HF_HUB_CACHE"] = "/cache";
  EXPECT_EQ(hub_settings_from_env(env)->cache_dir, "/cache");
  vars["HF_HUB_OFFLINE"] = "yes";
  EXPECT_TRUE(hub_settings_from_env(env)->offline);
  vars["HF_ENDPOINT"] = "ftp://x";
  EXPECT_FALSE(hub_settings_from_env(env).ok());
  vars["HF_ENDPOINT"] = "http://127.0.0.1:9/";
  vars["HF_TOKEN"] = "hf_abc\r\nX-Evil: 1";
  EXPECT_FALSE(hub_settings_from_env(env).ok());  // would inject a header
  vars["HF_TOKEN"] = " hf_abc \n";
  EXPECT_EQ(hub_settings_from_env(env)->token, "hf_abc");
  EXPECT_EQ(hub_settings_from_env(env)->endpoint, "http://127.0.0.1:9");
}

TEST(Cache, RefsAndRelativeSymlinks) {
  const std::string root = ::testing::TempDir() + "/hubcache-" + std::to_string(::getpid());
  const HubCache cache(root);
  const std::string commit(40, 'a');
  EXPECT_EQ(repo_folder_name("org/name"), "models--org--name");
  ASSERT_TRUE(cache.prepare("org/name", commit).ok());
  ASSERT_TRUE(cache.write_ref("org/name", "refs/pr/1", commit).ok());
  EXPECT_EQ(*cache.resolve_revision("org/name", "refs/pr/1"), commit);
  EXPECT_FALSE(cache.resolve_revision("org/name", "main").has_value());
  std::ofstream(cache.blob_path("org/name", "e1")) << "x";
  ASSERT_TRUE(cache.link_snapshot("org/name", commit, "a/b/f.txt", "e1").ok());
  const std::string link = cache.snapshot_path("org/name", commit, "a/b/f.txt");
  EXPECT_EQ(std::filesystem::read_symlink(link).string(), "../../../../blobs/e1");
  EXPECT_TRUE(file_exists(link));
  EXPECT_TRUE(file_exists(root + "/CACHEDIR.TAG"));
  std::filesystem::remove_all(root);
}

TEST(Select, PrefersSafetensorsAndTakesSideFiles) {
  auto sel = select_files("o/m", {"config.json", "tokenizer.json", "model.safetensors", "pytorch_model.bin",
                                  "README.md", "generation_config.json"},
                          "", SelectMode::kModel);
  ASSERT_TRUE(sel.ok());
  EXPECT_EQ(sel->files, (std::vector<std::string>{"config.json", "generation_config.json", "tokenizer.json",
                                                  "model.safetensors"}));
  sel = select_files("o/m", {"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors"}, "",
                     SelectMode::kModel);
  ASSERT_TRUE(sel.ok());
  EXPECT_EQ(sel->weights_index, "model.safetensors.index.json");
}

TEST(Select, GgufChoice) {
  auto one = select_files("o/m", {"README.md", "m-Q4_0.gguf"}, "", SelectMode::kModel);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->gguf_file, "m-Q4_0.gguf");
  auto many = select_files("o/m", {"m-Q4_0.gguf", "m-Q8_0.gguf"}, "", SelectMode::kModel);
  ASSERT_FALSE(many.ok());
  EXPECT_NE(many.status().message().find("m-Q8_0.gguf"), std::string::npos);
  auto split = select_files("o/m", {"m-00001-of-00002.gguf", "m-00002-of-00002.gguf", "x.gguf"},
                            "m-00001-of-00002.gguf", SelectMode::kModel);
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->files.size(), 2u);
  EXPECT_EQ(select_files("o/m", {"a.gguf"}, "b.gguf", SelectMode::kModel).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(select_files("o/m", {"README.md"}, "", SelectMode::kModel).ok());
}

// LOAD_FORMAT=dummy: config and tokenizer files, no weights, whatever format the repo has them in.
TEST(Select, ConfigOnlyForDummyWeights) {
  auto sel = select_files("o/m", {"config.json", "tokenizer.json", "tokenizer_config.json",
                                  "model.safetensors.index.json", "model-00001-of-00002.safetensors", "m.gguf"},
                          "", SelectMode::kConfig);
  ASSERT_TRUE(sel.ok());
  EXPECT_EQ(sel->files, (std::vector<std::string>{"config.json", "tokenizer.json", "tokenizer_config.json"}));
  EXPECT_EQ(sel->weights_index, "");
  EXPECT_EQ(sel->gguf_file, "");
  auto none = select_files("o/m", {"tokenizer.json", "m.gguf"}, "", SelectMode::kConfig);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no config.json (LOAD_FORMAT=dummy"), std::string::npos);
}

TEST(Select, LoraAdapterFilesOnly) {
  auto sel = select_files("o/a", {"README.md", "adapter_model.safetensors", "adapter_config.json", "config.json"}, "",
                          SelectMode::kLoraAdapter);
  ASSERT_TRUE(sel.ok());
  EXPECT_EQ(sel->files, (std::vector<std::string>{"adapter_config.json", "adapter_model.safetensors"}));
  auto none = select_files("o/a", {"adapter_config.json", "adapter_model.bin"}, "", SelectMode::kLoraAdapter);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().message(), "o/a has no adapter_model.safetensors (a PEFT LoRA adapter)");
}

}  // namespace
}  // namespace podserve::hub
