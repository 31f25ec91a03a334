"""Input and exposure rules of ``ncd-run serve`` (issue 13, rules 1, 9, 10 and the server items of 11), through real
HTTP on 127.0.0.1 (``server_support``), the CLI as a subprocess and Chromium for the /docs page.

Two servers per module: ``server`` (a token file, the plans directory holding the doc_review example, a ``shout``
plan whose Python step returns its input upper-cased, and a secret ``tokens.txt``), and ``files_server`` (open, with
``--input-files-dir``). Every refused request is checked to store nothing (``db_counts``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from openai_server import OpenAIServer
from server_support import ROOT, Server, db_counts, db_server, error_of, wait_status

ALICE = "alice-token-0123456789abcdef"
BOB = "bob-token-fedcba9876543210xyz"
SECRET = "alice-token-0123456789abcdef alice"
SHOUT_PLAN = """\
:<:{shouted}
    <= ::(shout {1})
        | %{python}: fns.py:shout
        | %{body_faculty}: python_interpreter
    <- {text}<:{1}>
        | %{is_ground}: true
"""
DOC_CRITERION = "keeps every figure"


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("plans")
    shutil.copytree(ROOT / "examples" / "doc_review", root / "doc_review")
    (root / "shout").mkdir()
    (root / "shout" / "plan.ncd").write_text(SHOUT_PLAN)
    shutil.copy(ROOT / "tests" / "runtime_plans" / "fns.py", root / "shout" / "fns.py")
    (root / "shout" / "tokens.txt").write_text(SECRET + "\n")  # the issue's setup: the token file beside a plan
    (root / "doc_review" / "tokens.txt").write_text(SECRET + "\n")
    (root / "broken.ncd").write_text(":<:{x}\n    <= ::(nothing\n")
    return root


@pytest.fixture(scope="module")
def llm():
    with OpenAIServer(lambda request: "true") as fake:
        yield fake


@pytest.fixture(scope="module")
def server(plans, llm, tmp_path_factory):
    srv = db_server(plans, tmp_path_factory.mktemp("server"), {"alice": ALICE, "bob": BOB}, llm.base_url).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def input_dir(plans, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("inputs")
    (root / "doc.txt").write_text("hello from the input files directory")
    (root / "sub").mkdir()
    (root / "sub" / "list.json").write_text('["one", "two"]')
    (root / "escape.txt").symlink_to(plans / "shout" / "tokens.txt")  # a link out of DIR
    (root / "bad.bin").write_bytes(b"\xff\xfe\x00")
    return root


@pytest.fixture(scope="module")
def files_server(plans, input_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("files-server")
    srv = Server(plans, ["--runs-dir", str(work / "runs")], None, work / "server.log")
    srv.start("--input-files-dir", str(input_dir))
    srv.work = work
    yield srv
    srv.stop()


@pytest.fixture()
def alice(server):
    with server.client(ALICE) as c:
        yield c


@pytest.fixture()
def bob(server):
    with server.client(BOB) as c:
        yield c


def no_server_path(text: str, *roots: Path) -> None:
    for root in roots:
        assert str(root) not in text and str(root.resolve()) not in text, text


# ---------------------------------------------------------------- rule 1: HTTP inputs are data


SIGNS = ["%{file_location}(tokens.txt)", "%{prompt_location}(tokens.txt)", "%{script_location}(fns.py)",
         "%{save_path}(out.txt)", "%{memorized_parameter}(key)", "%{some_new_norm}(tokens.txt)",
         "%{file_location}s1(tokens.txt)"]


@pytest.mark.parametrize("value", [
    *SIGNS,
    ["plain", "%{file_location}(tokens.txt)"],                      # nested in a list
    {"data": ["%{file_location}(tokens.txt)"], "axes": ["_none_axis"]},  # the {data, axes} form
    {"deep": [{"x": "%{file_location}(tokens.txt)"}]},             # nested in an object
    '%(["%{file_location}(tokens.txt)"])',                         # inside an element wrapper
    '%{literal}("%{file_location}(tokens.txt)")',
])
def test_file_signs_in_http_inputs_are_refused(server, alice, plans, value):
    before = db_counts(server.db)
    err = error_of(alice.post("/api/runs", json={"plan_id": "shout", "inputs": {"{text}": value}}), 422)
    assert err["code"] == "input_file_sign" and "{text}" in err["message"], err
    no_server_path(json.dumps(err), plans)
    assert db_counts(server.db) == before


def test_the_issue_scenario_doc_review_reading_the_token_file(server, alice, plans):
    """The issue's request: the doc_review plan served from a folder that also holds the token file."""
    before = db_counts(server.db)
    resp = alice.post("/api/runs", json={"plan_id": "doc_review", "inputs": {
        "{document}": "%{file_location}(tokens.txt)", "{quality criterion}": DOC_CRITERION}})
    assert error_of(resp, 422)["code"] == "input_file_sign"
    assert db_counts(server.db) == before
    assert SECRET not in resp.text


def test_plain_data_and_harmless_signs_run(server, alice):
    """The element wrapper, truth markers and ``dummy`` read as values and touch no file: accepted."""
    resp = alice.post("/api/runs", json={"plan_id": "shout", "inputs": {"{text}": "%(\"quiet\")"}})
    assert resp.status_code == 201, resp.text
    done = wait_status(alice, resp.json()["run_id"])
    assert done["status"] == "completed"
    assert alice.get(f"/api/runs/{done['run_id']}/result").json()["final"]["{shouted}"]["data"] == ["QUIET"]
    for value in ("%{truth_value}(True)", "%{dummy}(x)", "tokens.txt", "%{file_location}(tokens.txt) and more"):
        assert alice.post("/api/runs", json={"plan_id": "shout", "inputs": {"{text}": value}}).status_code == 201


def test_input_files_dir_confines_file_signs(files_server, input_dir, plans):
    with files_server.client() as c:
        resp = c.post("/api/runs", json={"plan_id": "shout", "inputs": {"{text}": "%{file_location}(doc.txt)"}})
        assert resp.status_code == 201, resp.text
        done = wait_status(c, resp.json()["run_id"])
        assert done["status"] == "completed", done
        final = c.get(f"/api/runs/{done['run_id']}/result").json()["final"]
        assert final["{shouted}"]["data"] == ["HELLO FROM THE INPUT FILES DIRECTORY"]
        runs = len(c.get("/api/runs").json()["runs"])
        for rel, code in [("tokens.txt", "input_file_unreadable"),           # the plan's folder is not DIR
                          (f"../{plans.name}/shout/tokens.txt", "input_file_sign"),
                          (str(plans / "shout" / "tokens.txt"), "input_file_sign"),   # absolute
                          ("escape.txt", "input_file_sign"),                   # a symlink out of DIR
                          ("sub", "input_file_unreadable"),                    # a directory
                          ("bad.bin", "input_file_invalid")]:
            resp = c.post("/api/runs", json={"plan_id": "shout", "inputs": {"{text}": f"%{{file_location}}({rel})"}})
            err = error_of(resp, 422)
            assert err["code"] == code, (rel, err)
            assert SECRET not in resp.text
            no_server_path(resp.text, input_dir, plans)
        # never accepted over HTTP, whatever the directory: which code runs, where the server writes, its memory
        for sign in ("%{script_location}(doc.txt)", "%{save_path}(doc.txt)", "%{memorized_parameter}(doc.txt)"):
            resp = c.post("/api/runs", json={"plan_id": "shout", "inputs": {"{text}": sign}})
            assert error_of(resp, 422)["code"] == "input_file_sign"
        assert len(c.get("/api/runs").json()["runs"]) == runs  # nothing stored for a refused request


def test_input_files_dir_text_stays_text(files_server, input_dir):
    """A file whose text looks like a sign is the text: it is not perceived again by the run."""
    (input_dir / "looks_like_a_sign.txt").write_text("%{file_location}(doc.txt)")
    with files_server.client() as c:
        resp = c.post("/api/runs", json={"plan_id": "shout",
                                         "inputs": {"{text}": "%{file_location}(looks_like_a_sign.txt)"}})
        assert resp.status_code == 201, resp.text
        done = wait_status(c, resp.json()["run_id"])
        final = c.get(f"/api/runs/{done['run_id']}/result").json()["final"]
        assert final["{shouted}"]["data"] == ["%{FILE_LOCATION}(DOC.TXT)"]


# ---------------------------------------------------------------- rule 9: run ids do not reveal other owners


def test_a_taken_run_id_answers_the_same_whoever_holds_it(server, alice, bob):
    assert alice.post("/api/runs", json={"plan_id": "shout", "inputs": {"{text}": "a"},
                                         "run_id": "alice-private"}).status_code == 201
    wait_status(alice, "alice-private")
    own = error_of(alice.post("/api/runs", json={"plan_id": "shout", "inputs": {"{text}": "a"},
                                                 "run_id": "alice-private"}), 409)
    other = error_of(bob.post("/api/runs", json={"plan_id": "shout", "inputs": {"{text}": "b"},
                                                 "run_id": "alice-private"}), 409)
    assert own == other and own["code"] == "run_id_unavailable", (own, other)
    assert "alice" not in other["message"].replace("alice-private", "") and "exists" not in other["message"]
    # a fork to another owner's id: the same answer again
    assert bob.post("/api/runs", json={"plan_id": "shout", "inputs": {"{text}": "b"},
                                       "run_id": "bob-own"}).status_code == 201
    wait_status(bob, "bob-own")
    fork = error_of(bob.post("/api/runs/bob-own/fork", json={"run_id": "alice-private"}), 409)
    assert fork == own
    error_of(bob.get("/api/runs/alice-private"), 404)


# ---------------------------------------------------------------- rule 10: exposure


def test_non_loopback_without_tokens_refuses_to_start(plans, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "runtime.cli", "serve", "--host", "0.0.0.0", "--port", "0",
                           "--plans-dir", str(plans), "--db", str(tmp_path / "r.db")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc
    assert proc.stderr.count("\n") == 1 and "--token-file" in proc.stderr and "--insecure-open" in proc.stderr
    assert not (tmp_path / "r.db").exists()


def test_insecure_open_starts_on_all_interfaces(plans, tmp_path):
    srv = Server(plans, ["--db", str(tmp_path / "r.db")], None, tmp_path / "log")
    srv.start("--host", "0.0.0.0", "--insecure-open")
    try:
        with srv.client() as c:
            assert c.get("/api/plans").status_code == 200  # Host 127.0.0.1: a loopback name
            assert error_of(c.get("/api/plans", headers={"Host": "evil.example"}), 400)["code"] == \
                "host_not_allowed"
    finally:
        srv.stop()


def test_host_header_is_checked(server, alice):
    for host in ("evil.example", "evil.example:80", "127.0.0.1.evil.example"):
        err = error_of(alice.get("/api/runs", headers={"Host": host}), 400)
        assert err["code"] == "host_not_allowed"
    assert error_of(httpx.get(server.url + "/healthz", headers={"Host": "rebind.example"}), 400)
    for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}", "localhost"):
        assert alice.get("/api/runs", headers={"Host": host}).status_code == 200


def test_allowed_hosts_option(plans, tmp_path):
    srv = Server(plans, ["--db", str(tmp_path / "r.db")], None, tmp_path / "log")
    srv.start("--allowed-hosts", "api.example.test,127.0.0.1")
    try:
        with srv.client() as c:
            assert c.get("/healthz", headers={"Host": "api.example.test"}).status_code == 200
            assert c.get("/healthz").status_code == 200
            error_of(c.get("/healthz", headers={"Host": "localhost"}), 400)  # not named: refused
    finally:
        srv.stop()


def test_every_post_needs_json(server, alice):
    assert alice.post("/api/runs", json={"plan_id": "shout", "inputs": {"{text}": "x"},
                                         "run_id": "form-src"}).status_code == 201
    wait_status(alice, "form-src")
    before = db_counts(server.db)
    # what a cross-site HTML form (or a "simple" fetch) can send: refused, nothing forked
    for kw in ({"data": {"mode": "patch"}}, {"content": b"{}", "headers": {"Content-Type": "text/plain"}},
               {"content": b"", "headers": {"Content-Type": "multipart/form-data; boundary=x"}}, {}):
        for path in ("/api/runs/form-src/fork", "/api/runs/form-src/resume", "/api/runs/form-src/cancel",
                     "/api/runs"):
            err = error_of(alice.post(path, **kw), 415)
            assert err["code"] == "unsupported_media_type"
    assert db_counts(server.db) == before
    fork = alice.post("/api/runs/form-src/fork", headers={"Content-Type": "application/json"})
    assert fork.status_code == 201, fork.text  # a body-less fork is fine when it says JSON


def test_security_headers_everywhere(server, alice):
    with server.client() as anon:
        for resp in (anon.get("/"), anon.get("/docs"), anon.get("/healthz"), anon.get("/static/app.js"),
                     anon.get("/api/runs"), alice.get("/api/runs"), alice.get("/nope"),
                     anon.get("/", headers={"Host": "evil.example"}), alice.post("/api/runs", data={"a": 1})):
            assert resp.headers["x-frame-options"] == "DENY", resp.url
            assert resp.headers["x-content-type-options"] == "nosniff"
            csp = resp.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-eval" not in csp


def test_docs_are_served_from_the_package(server):
    with server.client() as anon:
        page = anon.get("/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "//" not in page.text.replace("<!doctype", ""), page.text  # no external host, no protocol URL
        for asset in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css", "/static/docs.js"):
            assert asset in page.text or asset == "/static/docs.js"
            resp = anon.get(asset)
            assert resp.status_code == 200 and len(resp.content) > 100, asset
        assert "/openapi.json" in anon.get("/static/docs.js").text
        assert anon.get("/redoc").status_code == 404  # FastAPI's CDN page is gone


def test_docs_render_offline_in_chromium(server):
    """Swagger UI renders the API from package assets under the CSP (Chromium gets no network but 127.0.0.1)."""
    from playwright.sync_api import expect, sync_playwright
    from test_server_browser import CHROMIUM_ARGS, chromium_path

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            external, violations = [], []
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(server.url)
                       else (external.append(route.request.url), route.abort()))
            page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text
                    else None)
            page.goto(server.url + "/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("ncd-run serve", timeout=15_000)
            expect(page.locator(".opblock-summary-path").first).to_be_visible()
            assert not external, external
            assert not violations, violations
        finally:
            browser.close()


# ---------------------------------------------------------------- rule 11: bad input is one line / a 4xx


def _serve_cli(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runtime.cli", "serve", "--db", str(tmp / "r.db"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_bad_listen_addresses_exit_2_with_one_line(plans, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        taken = str(busy.getsockname()[1])
        for args, flag in [(["--port", "99999"], "--port 99999"), (["--port", "-1"], "--port -1"),
                           (["--host", "not-a-host.invalid"], "--host not-a-host.invalid"),
                           (["--port", taken], f"--port {taken}"),
                           (["--allowed-hosts", ","], "--allowed-hosts"),
                           (["--input-files-dir", str(tmp_path / "missing")], "--input-files-dir")]:
            proc = _serve_cli("--plans-dir", str(plans), *args, tmp=tmp_path)
            assert proc.returncode == 2, (args, proc)
            assert proc.stderr.startswith("ncd-run: ") and proc.stderr.count("\n") == 1, proc.stderr
            assert flag in proc.stderr and "Traceback" not in proc.stderr


def test_deeply_nested_inputs_are_refused(server, alice):
    before = db_counts(server.db)
    for depth, codes in [(65, {"input_too_deep"}), (900, {"input_too_deep", "invalid_request"}),
                         (60000, {"malformed_json"})]:
        body = '{"plan_id": "shout", "inputs": {"{text}": ' + "[" * depth + "]" * depth + "}}"
        resp = alice.post("/api/runs", content=body.encode(), headers={"Content-Type": "application/json"})
        assert resp.status_code in (400, 422), (depth, resp.status_code, resp.text[:300])
        err = error_of(resp, resp.status_code)
        assert err["code"] in codes and "Traceback" not in err["message"], (depth, err)
    assert db_counts(server.db) == before


def test_lone_surrogates_are_refused(server, alice):
    before = db_counts(server.db)
    for body in ('{"plan_id": "shout", "inputs": {"{text}": "a\\ud800b"}}',
                 '{"plan_id": "shout", "inputs": {"{text}": ["ok", {"k": "\\udfff"}]}}',
                 '{"plan_id": "shout", "inputs": {"{te\\ud800xt}": "a"}}',
                 '{"plan_id": "shout", "inputs": {"{text}": "a"}, "model": "m\\ud800"}'):
        resp = alice.post("/api/runs", content=body.encode(), headers={"Content-Type": "application/json"})
        err = error_of(resp, 422)
        assert err["code"] in ("invalid_input_text", "invalid_request"), err
    assert db_counts(server.db) == before


def test_no_answer_shows_a_server_path(server, alice, plans):
    """Plan errors written for the local user name files; answers to tenants name them relative to the plans
    directory."""
    listing = alice.get("/api/plans")
    assert listing.status_code == 200
    broken = [p for p in listing.json()["plans"] if p["plan_id"] == "broken"]
    assert broken and not broken[0]["ok"]
    no_server_path(listing.text, plans, Path(os.getcwd()), server.db.parent)
    no_server_path(alice.get("/api/plans/doc_review").text, plans, server.db.parent)
