"""The chat playground in a real browser: Debian's headless Chromium, driven by Playwright (the PyPI package,
using the system browser: no browser download).

It opens the page, sends a message and checks the streamed answer against the official `openai` client's answer
to the same request; runs the page's own curl and Python renderings of that request; stops a long answer and
sees the server count the abort in /metrics; goes through the API-key flow; and feeds the page hostile model
output. Screenshots go to $PODSERVE_ARTIFACTS_DIR/playground (the build folder under ctest), printed below.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from conftest import SERVED_MODEL, start_server
from playwright.sync_api import expect, sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("PODSERVE_ARTIFACTS_DIR") or tempfile.gettempdir()) / "playground"
API_KEY = "sk-playground-test"
# Without a system prompt the default model rambles on this one for thousands of tokens (greedy): an answer long
# enough to stop.
LONG_PROMPT = "What is the capital city of France?"
SHORT_PROMPT = "What is 2+2?"
SYSTEM = "You are a helpful assistant."


@pytest.fixture(scope="module")
def browser():
    assert os.path.exists(CHROMIUM), "Debian's chromium is not installed (scripts/setup installs it)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    print(f"\nplayground screenshots: {SHOTS}")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def open_server():
    srv = start_server()
    yield srv
    srv.stop()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    problems = []  # page errors and console errors such as CSP violations: none are expected
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" and "401" not in m.text else None)
    yield pg
    context.close()
    assert not problems, problems


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / name), full_page=True)


def abort_count(server) -> float:
    text = httpx.get(server.url + "/metrics").text
    m = re.search(r'^vllm:request_success_total\{[^}]*finished_reason="abort"[^}]*\} (\S+)$', text, re.M)
    return float(m.group(1))


def set_settings(page, temperature="0", max_tokens="48", seed="", system=SYSTEM):
    page.fill("#system", system)
    page.fill("#temperature", temperature)
    page.fill("#max-tokens", max_tokens)
    page.fill("#seed", seed)


def send(page, text: str):
    page.fill("#prompt", text)
    page.press("#prompt", "Enter")
    return page.locator(".message.assistant").last


def test_streamed_answer_matches_the_openai_client(page, open_server):
    page.goto(open_server.url + "/")
    expect(page.locator("#model")).to_contain_text(f"{SERVED_MODEL} · context 2048 tokens")
    expect(page.locator("#engine")).to_contain_text("running 0")
    shot(page, "01-start.png")
    set_settings(page)
    answer = send(page, SHORT_PROMPT)
    expect(answer).to_have_attribute("data-finish", re.compile("stop|length"), timeout=60_000)
    shot(page, "02-answer.png")

    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": SHORT_PROMPT}]
    ref = open_server.client().chat.completions.create(model=SERVED_MODEL, messages=messages, temperature=0,
                                                         top_p=0.95, max_tokens=48)
    text = answer.locator(".body").inner_text()
    assert text.strip() == ref.choices[0].message.content.strip()
    stats = answer.locator(".stats").inner_text()
    assert f"{ref.usage.prompt_tokens} prompt tokens" in stats
    assert f"{ref.usage.completion_tokens} answer tokens" in stats
    assert f"finish_reason: {ref.choices[0].finish_reason}" in stats and "tokens/s" in stats

    # The page's Python rendering of the request, run as shown, prints the same answer.
    page.click("#tab-python")
    python = page.locator("#request-code").inner_text()
    run = subprocess.run([sys.executable, "-c", python], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ref.choices[0].message.content.strip()
    # ... and so does its curl rendering, run by bash and curl.
    page.click("#tab-curl")
    curl = page.locator("#request-code").inner_text()
    assert shlex.split(curl)[0] == "curl"
    run = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    chunks = [json.loads(line[6:]) for line in run.stdout.splitlines()
              if line.startswith("data: {")]
    streamed = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert streamed.strip() == ref.choices[0].message.content.strip()
    assert run.stdout.rstrip().endswith("data: [DONE]")


def test_stop_aborts_the_request_on_the_server(page, open_server):
    page.goto(open_server.url + "/")
    expect(page.locator("#model")).to_contain_text(SERVED_MODEL)
    set_settings(page, max_tokens="1800", system="")
    before = abort_count(open_server)
    answer = send(page, LONG_PROMPT)
    # The answer appears while the request is still running: streamed, not delivered at the end.
    expect(answer).to_have_class(re.compile("streaming"))
    page.wait_for_function(
        "() => { const a = [...document.querySelectorAll('.message.assistant')].pop();"
        " return a.classList.contains('streaming') && a.querySelector('.body').textContent.length > 40; }",
        timeout=60_000)
    shot(page, "03-streaming.png")
    page.click("#stop")
    expect(answer).to_have_attribute("data-finish", "stopped")
    expect(answer.locator(".stats")).to_contain_text("stopped")
    assert answer.locator(".body").inner_text().strip(), "the partial answer stays"
    deadline = time.monotonic() + 15
    while abort_count(open_server) < before + 1:
        assert time.monotonic() < deadline, "the server did not count the stopped request as aborted"
        time.sleep(0.2)
    assert abort_count(open_server) == before + 1
    expect(page.locator("#engine")).to_contain_text("aborted", timeout=10_000)
    shot(page, "04-stopped.png")


def test_api_key_is_asked_for_and_kept_in_memory(page):
    srv = start_server(api_key=API_KEY)
    try:
        page.goto(srv.url + "/")
        dialog = page.locator("#key-dialog")
        expect(dialog).to_be_visible()
        shot(page, "05-api-key.png")
        page.fill("#key-input", "wrong-key")
        page.click("#key-submit")
        expect(page.locator("#key-error")).to_have_text("The key was not accepted.")
        expect(dialog).to_be_visible()
        page.fill("#key-input", API_KEY)
        page.click("#key-submit")
        expect(dialog).to_be_hidden()
        expect(page.locator("#model")).to_contain_text(SERVED_MODEL)
        set_settings(page, max_tokens="8")
        answer = send(page, SHORT_PROMPT)
        expect(answer).to_have_attribute("data-finish", re.compile("stop|length"), timeout=60_000)
        request = page.locator("#request-code").inner_text()
        assert "$PODSERVE_API_KEY" in request and API_KEY not in request  # no key in what users copy and share
        assert page.evaluate("localStorage.getItem('podserve.apiKey')") is None
        page.reload()
        expect(dialog).to_be_visible()  # memory only: a new page asks again
        page.fill("#key-input", API_KEY)
        page.check("#key-remember")
        page.click("#key-submit")
        expect(dialog).to_be_hidden()
        assert page.evaluate("localStorage.getItem('podserve.apiKey')") == API_KEY
        page.reload()
        expect(page.locator("#model")).to_contain_text(SERVED_MODEL)
        expect(dialog).to_be_hidden()
        page.click("#forget-key")
        expect(dialog).to_be_visible()
        assert page.evaluate("localStorage.getItem('podserve.apiKey')") is None
    finally:
        srv.stop()


def test_model_output_is_shown_as_text_never_run(page, open_server):
    hostile = ('<img src=x onerror="window.__xss=1"> **bold** <script>window.__xss=2</script>\n\n'
               '```html\n<iframe src="javascript:window.__xss=3"></iframe>\n```\n`<b>code</b>` [a](javascript:x)')
    chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    chunks += [{"choices": [{"index": 0, "delta": {"content": hostile[i:i + 7]}}]} for i in range(0, len(hostile), 7)]
    chunks += [{"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
    sse = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    page.route("**/v1/chat/completions",
               lambda route: route.fulfill(status=200, content_type="text/event-stream", body=sse))
    page.goto(open_server.url + "/")
    expect(page.locator("#model")).to_contain_text(SERVED_MODEL)
    answer = send(page, '<img src=x onerror="window.__xss=4">')
    expect(answer).to_have_attribute("data-finish", "stop")
    shot(page, "06-hostile-output.png")
    assert page.evaluate("window.__xss") is None
    messages = page.locator("#messages")
    assert messages.locator("img, script, iframe, a, b").count() == 0
    assert '<img src=x onerror="window.__xss=1">' in answer.inner_text()
    assert messages.locator(".message.user .body").last.inner_text() == '<img src=x onerror="window.__xss=4">'
    assert answer.locator("pre code").inner_text().strip() == '<iframe src="javascript:window.__xss=3"></iframe>'
