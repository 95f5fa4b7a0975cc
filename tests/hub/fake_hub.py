"""A stand-in for the Hugging Face Hub on loopback, written from the protocol description (models.md §6).

Two servers: the "Hub" (resolve URLs, model info API, tree API) and a "CDN" on another port that LFS files
redirect to, as the real Hub redirects to its CDN with pre-signed URLs. It records every request (host, method,
path, headers) and the body bytes it sent per blob, and can inject faults: a connection that drops mid-file, a
wrong ETag, a gated repo, a slow CDN.
"""

import hashlib
import json
import os
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "hf_standinTOKEN1234567890secret"
CDN_SIGNATURE = "X-Amz-Signature=presigned"


def git_blob_sha1(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class Repo:
    repo_id: str
    files: dict[str, bytes]
    commit: str = ""
    gated: bool = False
    wrong_etag: bool = False
    refs: dict = field(default_factory=dict)  # more revision names (branches, tags, refs/pr/N) -> commit
    lfs_suffixes: tuple = (".gguf", ".safetensors", ".bin")

    def __post_init__(self):
        if not self.commit:
            self.commit = hashlib.sha1(self.repo_id.encode()).hexdigest()

    def is_lfs(self, path: str) -> bool:
        return path.endswith(self.lfs_suffixes)

    def etag(self, path: str) -> str:
        content = self.files[path]
        if self.is_lfs(path):
            if self.wrong_etag:
                return hashlib.sha256(content + b"tampered").hexdigest()
            return hashlib.sha256(content).hexdigest()
        return git_blob_sha1(content)


@dataclass
class Request:
    server: str  # "hub" or "cdn"
    method: str
    path: str
    headers: dict


@dataclass
class FakeHub:
    repos: dict = field(default_factory=dict)
    requests: list = field(default_factory=list)
    bytes_sent: dict = field(default_factory=dict)  # sha256 -> body bytes sent by the CDN
    drop_after: dict = field(default_factory=dict)  # sha256 -> bytes to send before dropping (once)
    cdn_delay_s: float = 0.0  # sleep per 64 KiB chunk (slow CDN)
    cdn_stall_s: float = 0.0  # sleep between a blob's headers and its body (a stalled download)
    cdn_started: threading.Event = field(default_factory=threading.Event)  # set once a blob's headers are sent
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopped: bool = False

    def add(self, repo: Repo):
        self.repos[repo.repo_id] = repo

    def record(self, server, handler):
        with self.lock:
            self.requests.append(Request(server, handler.command, handler.path,
                                         {k.lower(): v for k, v in handler.headers.items()}))

    def start(self):
        self.hub = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self, "hub"))
        # A second host (127.0.0.2 is loopback too): the token must not follow a redirect there.
        self.cdn = ThreadingHTTPServer(("127.0.0.2", 0), make_handler(self, "cdn"))
        for s in (self.hub, self.cdn):
            s.daemon_threads = True
            threading.Thread(target=s.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.hub.server_address[1]}"
        self.cdn_url = f"http://127.0.0.2:{self.cdn.server_address[1]}"
        return self

    def stop(self):
        if self.stopped:
            return
        self.stopped = True
        for s in (self.hub, self.cdn):
            s.shutdown()
            s.server_close()

    def blob(self, sha: str) -> bytes | None:
        for repo in self.repos.values():
            for path, content in repo.files.items():
                if repo.is_lfs(path) and hashlib.sha256(content).hexdigest() == sha:
                    return content
        return None


def make_handler(hub: FakeHub, server: str):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send(self, status, headers=None, body=b"", head=False):
            self.send_response(status)
            headers = dict(headers or {})
            headers.setdefault("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            if not head and body:
                self.wfile.write(body)

        def error(self, status, code, message, commit=None, head=False):
            headers = {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"}
            if commit:
                headers["X-Repo-Commit"] = commit
            self.send(status, headers, json.dumps({"error": message}).encode(), head)

        def authorized(self, repo):
            auth = self.headers.get("Authorization")
            if not repo.gated:
                return None
            if auth is None:
                return (401, "GatedRepo", "Access to model %s is restricted. You must be authenticated." % repo.repo_id)
            if auth != "Bearer " + TOKEN:
                return (403, "GatedRepo", "Access to model %s is restricted and you are not in the authorized list."
                        % repo.repo_id)
            return None

        def find_repo(self, parts, head=False):
            repo_id = "/".join(parts[:2])
            repo = hub.repos.get(repo_id)
            if repo is None:
                self.error(401, "RepoNotFound", "Repository Not Found for url: " + self.path, head=head)
                return None
            denied = self.authorized(repo)
            if denied:
                self.error(*denied, head=head)
                return None
            return repo

        def revision_ok(self, repo, revision, head=False):
            if revision in ("main", repo.commit) or revision in repo.refs:
                return True
            self.error(404, "RevisionNotFound", "Invalid rev id: " + revision, head=head)
            return False

        def do_HEAD(self):
            self.handle_any(head=True)

        def do_GET(self):
            self.handle_any(head=False)

        def handle_any(self, head):
            hub.record(server, self)
            url = urllib.parse.urlsplit(self.path)
            if server == "cdn":
                return self.serve_cdn(url, head)
            parts = url.path.strip("/").split("/")
            if parts[:2] == ["api", "models"]:
                return self.serve_api(parts[2:], urllib.parse.parse_qs(url.query))
            if len(parts) >= 5 and parts[2] == "resolve":
                return self.serve_resolve(parts, head)
            self.error(404, "EntryNotFound", "no route", head=head)

        def serve_api(self, parts, query):
            repo = self.find_repo(parts)
            if repo is None:
                return
            if len(parts) < 4 or parts[2] not in ("revision", "tree"):
                return self.error(404, "EntryNotFound", "no route")
            revision = urllib.parse.unquote(parts[3])
            if not self.revision_ok(repo, revision):
                return
            if parts[2] == "revision":
                siblings = []
                for path, content in sorted(repo.files.items()):
                    s = {"rfilename": path}
                    if "blobs" in query:
                        s.update(size=len(content), blobId=git_blob_sha1(content))
                        if repo.is_lfs(path):
                            s["lfs"] = {"size": len(content), "sha256": hashlib.sha256(content).hexdigest(),
                                        "pointerSize": 134}
                    siblings.append(s)
                body = {"_id": "x", "id": repo.repo_id, "modelId": repo.repo_id, "sha": repo.commit,
                        "private": False, "gated": "auto" if repo.gated else False, "disabled": False,
                        "downloads": 0, "likes": 0, "tags": [], "siblings": siblings}
            else:
                body = []
                for path, content in sorted(repo.files.items()):
                    entry = {"type": "file", "oid": git_blob_sha1(content), "size": len(content), "path": path}
                    if repo.is_lfs(path):
                        entry["lfs"] = {"oid": hashlib.sha256(content).hexdigest(), "size": len(content),
                                        "pointerSize": 134}
                    body.append(entry)
            self.send(200, {"Content-Type": "application/json"}, json.dumps(body).encode())

        def serve_resolve(self, parts, head):
            repo = self.find_repo(parts, head)
            if repo is None:
                return
            revision = urllib.parse.unquote(parts[3])
            path = urllib.parse.unquote("/".join(parts[4:]))
            if not self.revision_ok(repo, revision, head):
                return
            if path not in repo.files:
                return self.error(404, "EntryNotFound", "%s does not exist" % path, repo.commit, head)
            content = repo.files[path]
            headers = {"X-Repo-Commit": repo.commit, "ETag": '"%s"' % git_blob_sha1(content),
                       "Accept-Ranges": "bytes"}
            if repo.is_lfs(path):
                sha = hashlib.sha256(content).hexdigest()
                headers.update({"X-Linked-Etag": '"%s"' % repo.etag(path), "X-Linked-Size": str(len(content)),
                                "Location": "%s/blobs/%s?%s" % (hub.cdn_url, sha, CDN_SIGNATURE)})
                return self.send(302, headers, b"", head)
            self.send_range(content, headers, head, key=None)

        def serve_cdn(self, url, head):
            sha = url.path.rsplit("/", 1)[-1]
            content = hub.blob(sha)
            if content is None or CDN_SIGNATURE not in url.query:
                return self.send(403, {}, b"AccessDenied", head)
            self.send_range(content, {"ETag": '"%s"' % sha, "Accept-Ranges": "bytes"}, head, key=sha)

        def send_range(self, content, headers, head, key):
            start = 0
            status = 200
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes=") and rng.endswith("-"):
                start = int(rng[len("bytes="):-1])
                if start >= len(content):
                    return self.send(416, {"Content-Range": "bytes */%d" % len(content)}, b"", head)
                status = 206
                headers["Content-Range"] = "bytes %d-%d/%d" % (start, len(content) - 1, len(content))
            body = content[start:]
            headers["Content-Length"] = str(len(body))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            if head:
                return
            if key:
                hub.cdn_started.set()
                time.sleep(hub.cdn_stall_s)
            with hub.lock:
                limit = hub.drop_after.pop(key, None) if key else None
            sent = 0
            chunk = 64 * 1024
            while sent < len(body):
                piece = body[sent:sent + chunk]
                if limit is not None and sent + len(piece) > limit:
                    piece = piece[:limit - sent]
                try:
                    self.wfile.write(piece)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += len(piece)
                if key:
                    with hub.lock:
                        hub.bytes_sent[key] = hub.bytes_sent.get(key, 0) + len(piece)
                if limit is not None and sent >= limit:
                    self.close_connection = True
                    self.connection.shutdown(2)  # drop mid-file, as a broken network would
                    return
                if hub.cdn_delay_s and key:
                    time.sleep(hub.cdn_delay_s)

    return Handler
