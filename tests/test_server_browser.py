"""The page of ``ncd-run serve`` in a real browser (issue #8): it loads ``/``, takes a token, lists runs, opens a
running run and shows its step statuses changing live.

A real server subprocess (with a token file) and Debian's Chromium driven by Playwright (``playwright install`` is
never needed: the system browser is used). The plans directory holds the slow plan of ``server_support`` with a
binding whose steps each wait for their own gate file ``GO-<seed>-<step>`` (1, 2, 3 in execution order), so the test
lets the run progress one step at a time and waits on the page with Playwright's auto-retrying expectations.

Chromium: ``$NCD_CHROMIUM``, else ``/usr/bin/chromium``, else ``chromium`` on PATH. Without one the test fails (it is
not skipped): install it with ``apt-get install chromium`` (``.ci/run`` does so).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from server_support import SLOW_PLAN, Server, wait_for

TOKEN = "browser-token-0123456789abcdef"
SEED = "web"
RUN_ID = "web-1"
T = 10_000  # ms: the longest any expectation waits (each normally holds within a fraction of a second)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# The steps get "web", "web+", "web++": step n waits (at most 30 s) for GO-web-n, or for GO-all (teardown).
GATED_STEPS = '''"""Step n of a run (n = 1 + the number of '+' in its input) waits until GO-<seed>-<n> or GO-all exists."""

import time
from pathlib import Path

HERE = Path(__file__).parent


def step(x):
    seed, n = str(x).split("+")[0], str(x).count("+") + 1
    gate, everything = HERE / f"GO-{seed}-{n}", HERE / "GO-all"
    deadline = time.monotonic() + 30
    while not gate.exists() and not everything.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return f"{x}+"
'''

FIRST, SECOND, THIRD = "1.2.2", "1.2", "1"  # flow indexes of the steps in execution order


def chromium_path() -> str:
    """The Chromium binary, or a failing test that says how to install it."""
    given = os.environ.get("NCD_CHROMIUM")
    if given:
        if not os.access(given, os.X_OK):
            pytest.fail(f"NCD_CHROMIUM={given} is not an executable file: point it at Chromium, or unset it and "
                        "install Chromium with `sudo apt-get install chromium`", pytrace=False)
        return given
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("Chromium is needed for the browser test and was not found: install it with "
                "`sudo apt-get install chromium` (or set NCD_CHROMIUM=/path/to/chromium)", pytrace=False)


@pytest.fixture(scope="module")
def gates(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser-plans")
    (root / "slow").mkdir()
    (root / "slow" / "plan.ncd").write_text(SLOW_PLAN)
    (root / "slow" / "steps.py").write_text(GATED_STEPS)
    return root / "slow"


@pytest.fixture(scope="module")
def server(gates, tmp_path_factory):
    work = tmp_path_factory.mktemp("browser-server")
    tokens = work / "tokens.txt"
    tokens.write_text(f"{TOKEN} web\n")
    srv = Server(gates.parent, ["--db", str(work / "runs.db")], tokens, work / "server.log")
    try:
        yield srv.start()
    finally:
        (gates / "GO-all").touch()  # a step still waiting (a failed test) ends now, so the server stops quickly
        if srv.proc is not None:
            srv.stop()


@contextmanager
def chromium_page(executable: str) -> Iterator[tuple[Page, SimpleNamespace]]:
    """A page of a headless Chromium, closed on the way out, and what it saw: ``problems`` (console errors and
    uncaught exceptions), ``requests`` and ``answers`` ((url, status) of every response)."""
    seen = SimpleNamespace(problems=[], requests=[], answers=[])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(T)
            page.on("console", lambda m: m.type == "error" and seen.problems.append(f"console: {m.text}"))
            page.on("pageerror", lambda exc: seen.problems.append(f"page error: {exc}"))
            page.on("request", lambda r: seen.requests.append(r))
            page.on("response", lambda r: seen.answers.append((r.url, r.status)))
            yield page, seen
        finally:
            browser.close()


def test_page_follows_a_running_run(server, gates):
    executable = chromium_path()
    with chromium_page(executable) as (page, seen):
        follow_a_run(server, gates, page, seen)


def follow_a_run(server: Server, gates: Path, page: Page, seen: SimpleNamespace) -> None:
    with server.client(TOKEN) as api:
        resp = api.post("/api/runs", json={"plan_id": "slow", "inputs": {"{seed}": SEED}, "run_id": RUN_ID})
        assert resp.status_code == 201, resp.text
        wait_for(lambda: api.get(f"/api/runs/{RUN_ID}").json()["counts"].get("running"), what="the first step")

    # the page asks without a token first: the server's 401 message is shown, no run is listed
    page.goto(server.url + "/")
    expect(page.locator("#message")).to_contain_text("bearer token", timeout=T)
    expect(page.locator("#runs tbody tr")).to_have_count(0)

    page.fill("#token", TOKEN)
    page.click("#token-form button[type=submit]")
    row = page.locator(f'#runs tbody tr[data-run-id="{RUN_ID}"]')
    expect(row).to_have_attribute("data-status", "running", timeout=T)
    expect(row).to_contain_text("slow")
    expect(page.locator("#message")).to_have_text("")

    row.click()
    expect(row).to_have_class("selected", timeout=T)
    expect(page.locator("#run-panel")).to_be_visible()
    expect(page.locator("#run-title")).to_have_text(RUN_ID)
    expect(page.locator("#run-status")).to_have_attribute("data-status", "running", timeout=T)
    expect(page.locator("#events-url")).to_have_text(f"/api/runs/{RUN_ID}/events", timeout=T)
    nodes = page.locator("#graph g.node")
    expect(nodes).to_have_count(3, timeout=T)

    def node(flow_index: str):
        return page.locator(f'#graph g.node[data-flow-index="{flow_index}"]')

    def statuses(first: str, second: str, third: str) -> None:
        expect(node(FIRST)).to_have_attribute("data-status", first, timeout=T)
        expect(node(SECOND)).to_have_attribute("data-status", second, timeout=T)
        expect(node(THIRD)).to_have_attribute("data-status", third, timeout=T)

    statuses("running", "pending", "pending")
    expect(node(FIRST).locator("rect")).to_have_class("running")
    expect(node(SECOND)).to_contain_text("{b}")
    log = page.locator("#event-log li")
    expect(log).to_have_count(0)

    # one gate at a time: each step finishes (an event) while the next one is seen running and the last waits
    (gates / f"GO-{SEED}-1").touch()
    statuses("completed", "running", "pending")
    expect(node(FIRST).locator("rect")).to_have_class("completed")
    expect(log).to_have_count(1, timeout=T)
    expect(log.first).to_contain_text(f"{FIRST} completed")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "running")

    (gates / f"GO-{SEED}-2").touch()
    statuses("completed", "completed", "running")
    expect(log).to_have_count(2, timeout=T)
    expect(log.first).to_contain_text(f"{SECOND} completed")

    (gates / f"GO-{SEED}-3").touch()
    statuses("completed", "completed", "completed")
    expect(log).to_have_count(4, timeout=T)  # three steps and the end of the run
    expect(log.first).to_have_text("end: completed")
    expect(log.nth(1)).to_contain_text(f"{THIRD} completed")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "completed", timeout=T)
    expect(page.locator("#run-status")).to_have_text("completed")
    expect(page.locator("#run-summary")).to_contain_text("3 completed", timeout=T)
    expect(row).to_have_attribute("data-status", "completed", timeout=T)
    expect(row.locator(".st")).to_have_text("completed")

    # the token went in the Authorization header, never in a URL; the one answer 401 (and the browser's one
    # complaint) is the list asked for before the token was entered; no script error
    assert not [r.url for r in seen.requests if TOKEN in r.url]
    streams = [r for r in seen.requests if r.url == f"{server.url}/api/runs/{RUN_ID}/events"]
    assert streams and all(r.all_headers().get("authorization") == f"Bearer {TOKEN}" for r in streams)
    assert [url for url, status in seen.answers if status >= 400] == [f"{server.url}/api/runs?limit=200"]
    assert [p for p in seen.problems if "status of 401 (Unauthorized)" not in p] == [], seen.problems
