"""The chat playground's routes over HTTP: the page and its files with their Content-Type, caching and security
headers, revalidation (ETag / 304), and `--disable-playground` / DISABLE_PLAYGROUND, which leave `/` as before (404).
The page itself is driven in a real browser by test_playground_browser.py."""

from html.parser import HTMLParser

import httpx
import pytest
from conftest import start_server

FILES = {
    "/": "text/html; charset=utf-8",
    "/playground/playground.js": "text/javascript; charset=utf-8",
    "/playground/playground.css": "text/css; charset=utf-8",
    "/playground/favicon.svg": "image/svg+xml",
}


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []
        self.inline_scripts = 0
        self.inline_handlers = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.urls += [attrs[a] for a in ("src", "href") if a in attrs]
        self.inline_handlers += [a for a in attrs if a.startswith("on")]
        self._in_script = tag == "script"

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag):
        self._in_script = False


@pytest.mark.parametrize("path", FILES)
def test_files_have_their_type_and_caching_headers(raw, path):
    r = raw.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"] == FILES[path]
    assert r.headers["cache-control"] == "no-cache"  # revalidated each time: a new binary's page shows at once
    assert r.headers["x-content-type-options"] == "nosniff"
    etag = r.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = raw.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert raw.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


def test_page_allows_only_its_own_script_and_api(raw):
    r = raw.get("/")
    csp = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == "'self'" and csp["connect-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and r.headers["x-frame-options"] == "DENY"
    page = Links()
    page.feed(r.text)
    assert page.urls and all(u.startswith("/playground/") for u in page.urls), page.urls  # no CDN, no fonts
    assert page.inline_scripts == 0 and page.inline_handlers == []  # nothing the CSP would have to allow
    for path in ("/playground/playground.js", "/playground/playground.css"):
        assert "http://" not in raw.get(path).text and "https://" not in raw.get(path).text


def test_unknown_file_is_a_404_in_the_api_error_shape(raw):
    r = raw.get("/playground/missing.js")
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "Route GET /playground/missing.js not found"


def test_page_is_open_when_the_api_needs_a_key():
    srv = start_server(api_key="sk-page")
    try:
        assert httpx.get(srv.url + "/").status_code == 200  # the page asks for the key; the API checks it
        assert httpx.get(srv.url + "/v1/models").status_code == 401
    finally:
        srv.stop()


@pytest.mark.parametrize("how", [{"args": ["--disable-playground"]}, {"env": {"DISABLE_PLAYGROUND": "true"}}])
def test_disabled_playground_leaves_root_as_before(how):
    srv = start_server(how.get("args"), env=how.get("env"))
    try:
        for path in ("/", "/playground/playground.js"):
            r = httpx.get(srv.url + path)
            assert r.status_code == 404
            assert r.json()["error"]["message"] == f"Route GET {path} not found"
        assert httpx.get(srv.url + "/health").status_code == 200
    finally:
        srv.stop()
