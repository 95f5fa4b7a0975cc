"""podserve's Hub client against the stand-in Hub, checked with the real huggingface_hub on the same cache."""

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import time
import urllib.parse

import httpx

from conftest import (BAD_ETAG_REPO, BIG_REPO, BIG_SIZE, DUMMY_REPO, GATED_REPO, GGUF_REPO, NESTED_FILE, NESTED_REPO,
                      ST_REPO, TOKEN, free_port, hub_env, podserve, run_hf, sha256)


def download(hub, cache, *args, **env):
    r = podserve("download", *args, env=hub_env(hub, cache, **env))
    return r


def test_gguf_download_is_found_by_huggingface_hub_offline(hub, cache):
    r = download(hub, cache, GGUF_REPO)
    assert r.returncode == 0, r.stderr
    path = r.stdout.strip()
    repo = hub.repos[GGUF_REPO]
    assert path == f"{cache}/models--podserve-test--tiny-gguf/snapshots/{repo.commit}/tiny-llama.gguf"
    with open(path, "rb") as f:
        assert f.read() == repo.files["tiny-llama.gguf"]
    # Only what the model needs: README.md was not fetched.
    assert sorted(os.listdir(os.path.dirname(path))) == ["tiny-llama.gguf"]

    found = run_hf(f"""
        from huggingface_hub import hf_hub_download, snapshot_download, scan_cache_dir, hf_hub_url
        result = dict(
            file=hf_hub_download("{GGUF_REPO}", "tiny-llama.gguf", local_files_only=True),
            snapshot=snapshot_download("{GGUF_REPO}", local_files_only=True),
            url=hf_hub_url("{GGUF_REPO}", "tiny-llama.gguf", revision="{repo.commit}"))
        info = scan_cache_dir()
        result["warnings"] = [str(w) for w in info.warnings]
        result["repos"] = {{r.repo_id: dict(refs=sorted(rev for x in r.revisions for rev in x.refs),
                                            files=sorted(f.file_name for x in r.revisions for f in x.files),
                                            size=r.size_on_disk) for r in info.repos}}
    """, hub_env(None, cache, HF_HUB_OFFLINE=1))
    assert found["file"] == path
    assert found["snapshot"] == os.path.dirname(path)
    assert found["warnings"] == []
    assert found["repos"] == {GGUF_REPO: {"refs": ["main"], "files": ["tiny-llama.gguf"],
                                          "size": len(repo.files["tiny-llama.gguf"])}}
    # The blob is named by the sha256 ETag, the link is relative, refs/main holds the commit without newline.
    blob = os.readlink(path)
    assert blob == "../../blobs/" + hashlib.sha256(repo.files["tiny-llama.gguf"]).hexdigest()
    with open(f"{cache}/models--podserve-test--tiny-gguf/refs/main") as f:
        assert f.read() == repo.commit
    # Requests went to the URLs huggingface_hub builds, and the file came from the CDN.
    heads = [q for q in hub.requests if q.method == "HEAD"]
    assert [q.path for q in heads] == [urllib.parse.urlsplit(found["url"]).path.replace(
        hub.url.split("//")[1], "")]
    assert any(q.server == "cdn" and q.method == "GET" for q in hub.requests)

    # A second download finds everything in the cache: no file is fetched again.
    before = len([q for q in hub.requests if q.method == "GET" and q.server == "cdn"])
    r = download(hub, cache, GGUF_REPO)
    assert r.returncode == 0 and r.stdout.strip() == path
    assert len([q for q in hub.requests if q.method == "GET" and q.server == "cdn"]) == before


def test_transformers_repo_takes_config_tokenizer_and_safetensors_shards(hub, cache):
    r = download(hub, cache, ST_REPO)
    assert r.returncode == 0, r.stderr
    snapshot = r.stdout.strip()
    repo = hub.repos[ST_REPO]
    expected = ["config.json", "generation_config.json", "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors", "model.safetensors.index.json", "tokenizer.json",
                "tokenizer_config.json"]
    assert sorted(os.listdir(snapshot)) == expected
    for name in expected:
        with open(os.path.join(snapshot, name), "rb") as f:
            assert f.read() == repo.files[name], name
    files = run_hf(f"""
        from huggingface_hub import hf_hub_download
        result = {{n: hf_hub_download("{ST_REPO}", n, local_files_only=True) for n in {expected!r}}}
    """, hub_env(None, cache, HF_HUB_OFFLINE=1))
    assert files == {n: os.path.join(snapshot, n) for n in expected}
    # Small files are named by their git blob sha1, as the Hub's ETag says.
    assert os.readlink(os.path.join(snapshot, "config.json")).endswith(
        hashlib.sha1(b"blob %d\0" % len(repo.files["config.json"]) + repo.files["config.json"]).hexdigest())


def test_urls_refs_and_nested_paths_are_huggingface_hubs(hub, cache):
    """A PR revision (quoted with safe=""), a file in a subfolder with a space and a '+' (quoted keeping '/'):
    podserve asks the stand-in for the same paths as huggingface_hub does, and huggingface_hub finds the file
    through podserve's refs/refs/pr/1 and nested symlink."""
    r = download(hub, cache, f"{NESTED_REPO}:{NESTED_FILE}", "--revision", "refs/pr/1")
    assert r.returncode == 0, r.stderr
    path = r.stdout.strip()
    ours = sorted((q.method, q.path.split("?")[0]) for q in hub.requests if q.server == "hub")
    hub.requests.clear()
    commit = hub.repos[NESTED_REPO].commit
    run_hf(f"""
        from huggingface_hub import HfApi, hf_hub_download
        info = HfApi().model_info("{NESTED_REPO}", revision="refs/pr/1", files_metadata=True)
        result = hf_hub_download("{NESTED_REPO}", "{NESTED_FILE}", revision=info.sha)
    """, hub_env(hub, cache + "-hf"))
    theirs = sorted((q.method, q.path.split("?")[0]) for q in hub.requests
                    if q.server == "hub" and (q.path.startswith("/api/models/") or "/resolve/" in q.path))
    assert ours == theirs
    assert ("HEAD", f"/{NESTED_REPO}/resolve/{commit}/sub%20dir/x%2By.gguf") in ours
    found = run_hf(f"""
        from huggingface_hub import hf_hub_download
        result = hf_hub_download("{NESTED_REPO}", "{NESTED_FILE}", revision="refs/pr/1", local_files_only=True)
    """, hub_env(None, cache, HF_HUB_OFFLINE=1))
    assert found == path == f"{cache}/models--podserve-test--nested/snapshots/{commit}/{NESTED_FILE}"
    assert os.readlink(path).startswith("../../../blobs/")
    with open(f"{cache}/models--podserve-test--nested/refs/refs/pr/1") as f:
        assert f.read() == commit


def test_podserve_finds_what_huggingface_hub_downloaded(hub, cache):
    paths = run_hf(f"""
        from huggingface_hub import hf_hub_download, snapshot_download
        result = dict(gguf=hf_hub_download("{GGUF_REPO}", "tiny-llama.gguf"),
                      st=snapshot_download("{ST_REPO}"))
    """, hub_env(hub, cache))
    hub.requests.clear()
    offline = hub_env(hub, cache, HF_HUB_OFFLINE=1)
    r = podserve("download", GGUF_REPO, env=offline)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == paths["gguf"]
    r = podserve("download", ST_REPO, env=offline)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == paths["st"]
    assert hub.requests == []  # offline: no request at all
    # Online, podserve checks the Hub but fetches nothing: every blob is there.
    r = download(hub, cache, ST_REPO)
    assert r.returncode == 0, r.stderr
    assert not [q for q in hub.requests if q.method == "GET" and "/resolve/" in q.path or q.server == "cdn"]


def test_gated_repo_needs_the_token_which_never_reaches_the_cdn_or_the_logs(hub, cache):
    r = download(hub, cache, GATED_REPO)
    assert r.returncode == 1
    assert "gated" in r.stderr and "HF_TOKEN" in r.stderr and "401" in r.stderr, r.stderr
    r = download(hub, cache, GATED_REPO, HF_TOKEN="hf_wrongtoken")
    assert r.returncode == 1 and "403" in r.stderr and "hf_wrongtoken" not in r.stderr + r.stdout

    hub.requests.clear()
    r = download(hub, cache, GATED_REPO, HF_TOKEN=TOKEN, VLLM_LOGGING_LEVEL="DEBUG")
    assert r.returncode == 0, r.stderr
    assert TOKEN not in r.stderr + r.stdout
    hub_requests = [q for q in hub.requests if q.server == "hub"]
    cdn_requests = [q for q in hub.requests if q.server == "cdn"]
    assert hub_requests and cdn_requests
    assert all(q.headers.get("authorization") == "Bearer " + TOKEN for q in hub_requests)
    assert all("authorization" not in q.headers for q in cdn_requests)
    assert all(TOKEN not in json.dumps(q.headers) + q.path for q in cdn_requests)


def test_clear_errors_for_unknown_repo_revision_and_file(hub, cache):
    r = download(hub, cache, "podserve-test/no-such-repo", HF_TOKEN=TOKEN)
    assert r.returncode == 1 and "Repository not found" in r.stderr and "podserve-test/no-such-repo" in r.stderr
    assert TOKEN not in r.stderr
    r = download(hub, cache, GGUF_REPO, "--revision", "v9.9")
    assert r.returncode == 1 and "Revision not found" in r.stderr and "v9.9" in r.stderr, r.stderr
    r = download(hub, cache, GGUF_REPO + ":other.gguf")
    assert r.returncode == 1 and "other.gguf" in r.stderr and "tiny-llama.gguf" in r.stderr, r.stderr
    r = download(hub, cache, "not a repo!")
    assert r.returncode == 1 and "not a valid Hugging Face repo id" in r.stderr, r.stderr
    r = podserve("download", GGUF_REPO, env=hub_env(hub, cache, HF_HUB_OFFLINE=1))
    assert r.returncode == 1 and "HF_HUB_OFFLINE" in r.stderr and "podserve download" in r.stderr, r.stderr


def test_network_failure_is_retried_then_names_the_url_without_the_token(cache):
    port = free_port()  # nothing listens there
    env = hub_env(None, cache, HF_ENDPOINT=f"http://127.0.0.1:{port}", HF_TOKEN=TOKEN, PODSERVE_HUB_MAX_RETRIES=1)
    r = podserve("download", GGUF_REPO, env=env)
    assert r.returncode == 1
    assert f"http://127.0.0.1:{port}/api/models/{GGUF_REPO}/revision/main" in r.stderr, r.stderr
    assert "retrying" in r.stderr and "gave up after 2 attempts" in r.stderr, r.stderr
    assert TOKEN not in r.stderr + r.stdout


def test_interrupted_download_resumes_instead_of_restarting(hub, cache):
    content = hub.repos[BIG_REPO].files["big.gguf"]
    sha = hashlib.sha256(content).hexdigest()
    # In one run: the connection drops after 1 MiB, the client resumes with Range.
    hub.drop_after[sha] = 1 << 20
    r = download(hub, cache, BIG_REPO)
    assert r.returncode == 0, r.stderr
    assert sha256(r.stdout.strip()) == sha
    assert hub.bytes_sent[sha] == BIG_SIZE  # every byte sent once
    assert f"Downloaded {BIG_REPO}: 3.0 MiB / 3.0 MiB (100%)" in r.stderr, r.stderr  # the progress summary (no TTY)
    ranges = [q.headers.get("range") for q in hub.requests if q.server == "cdn" and q.method == "GET"]
    assert ranges == [None, f"bytes={1 << 20}-"]

    # Across runs: the first gives up (no retries) and leaves blobs/<sha>.incomplete; the second resumes it.
    cache2 = cache + "-2"
    hub.bytes_sent.clear()
    hub.requests.clear()
    hub.drop_after[sha] = 1 << 20
    r = download(hub, cache2, BIG_REPO, PODSERVE_HUB_MAX_RETRIES=0)
    assert r.returncode == 1, r.stderr
    partial = f"{cache2}/models--podserve-test--big/blobs/{sha}.incomplete"
    assert os.path.getsize(partial) == 1 << 20
    r = download(hub, cache2, BIG_REPO)
    assert r.returncode == 0, r.stderr
    assert sha256(r.stdout.strip()) == sha and not os.path.exists(partial)
    assert hub.bytes_sent[sha] == BIG_SIZE
    ranges = [q.headers.get("range") for q in hub.requests if q.server == "cdn" and q.method == "GET"]
    assert ranges == [None, f"bytes={1 << 20}-"]


def test_wrong_etag_is_rejected_and_nothing_enters_the_cache(hub, cache):
    r = download(hub, cache, BAD_ETAG_REPO)
    assert r.returncode == 1 and "sha256" in r.stderr and "does not match" in r.stderr, r.stderr
    repo_dir = f"{cache}/models--podserve-test--bad-etag"
    assert os.listdir(f"{repo_dir}/blobs") == []
    assert os.listdir(f"{repo_dir}/snapshots/{hub.repos[BAD_ETAG_REPO].commit}") == []


def test_two_concurrent_downloads_fetch_each_blob_once(hub, cache):
    sha = hashlib.sha256(hub.repos[BIG_REPO].files["big.gguf"]).hexdigest()
    hub.cdn_delay_s = 0.01  # ~50 chunks: the downloads overlap
    env = hub_env(hub, cache)
    binary = os.environ["PODSERVE_BINARY"]
    procs = [subprocess.Popen([binary, "download", BIG_REPO], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert outs[0][0] == outs[1][0]
    assert sha256(outs[0][0].strip()) == sha
    cdn_gets = [q for q in hub.requests if q.server == "cdn" and q.method == "GET"]
    assert len(cdn_gets) == 1 and hub.bytes_sent[sha] == BIG_SIZE


@contextlib.contextmanager
def serving(env: dict, cache: str):
    """`podserve serve` on a free port with `env` until /health answers; yields its URL and log path."""
    port = free_port()
    log = open(os.path.join(os.path.dirname(cache), "serve.log"), "w+")
    proc = subprocess.Popen([os.environ["PODSERVE_BINARY"], "serve", "--port", str(port), "--host", "127.0.0.1",
                             "--max-model-len", "128"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            assert proc.poll() is None, open(log.name).read()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", log.name
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def complete(url: str, model: str, tokens: int) -> None:
    r = httpx.post(f"{url}/v1/completions",
                   json={"model": model, "prompt": "the", "max_tokens": tokens, "temperature": 0}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["usage"]["completion_tokens"] == tokens


def test_serve_a_repo_id_from_the_cache_offline(hub, cache):
    assert download(hub, cache, GGUF_REPO).returncode == 0
    hub.stop()  # the Hub is gone; the model must come from the cache
    with serving(hub_env(None, cache, HF_HUB_OFFLINE=1, MODEL_NAME=GGUF_REPO), cache) as (url, log):
        models = httpx.get(f"{url}/v1/models").json()
        assert [m["id"] for m in models["data"]] == [GGUF_REPO]
        complete(url, GGUF_REPO, 4)
    assert "from the cache" in open(log).read()


def test_dummy_load_format_fetches_config_and_tokenizer_only(hub, cache):
    """LOAD_FORMAT=dummy with a repo id: config.json and the tokenizer come from the Hub, the weights do not."""
    with serving(hub_env(hub, cache, MODEL_NAME=DUMMY_REPO, LOAD_FORMAT="dummy"), cache) as (url, log):
        complete(url, DUMMY_REPO, 3)
    fetched = [q.path for q in hub.requests if q.method == "GET" and "/resolve/" in q.path]
    assert any(p.endswith("/config.json") for p in fetched) and any(p.endswith("/tokenizer.json") for p in fetched)
    assert not [q.path for q in hub.requests if "safetensors" in q.path or q.server == "cdn"], fetched
    assert "dummy weights (LOAD_FORMAT=dummy)" in open(log).read()
