"""Shared harness of the run-server tests: ``ncd-run serve`` in a real subprocess on 127.0.0.1, httpx clients,
SSE reading, and a gated slow plan whose steps wait for a file so that tests decide when a run progresses."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]

SLOW_PLAN = """\
:<:{c}
    <= ::(third {1})
        | %{python}: steps.py:step
        | %{body_faculty}: python_interpreter
    <- {b}<:{1}>
        <= ::(second {1})
            | %{python}: steps.py:step
            | %{body_faculty}: python_interpreter
        <- {a}<:{1}>
            <= ::(first {1})
                | %{python}: steps.py:step
                | %{body_faculty}: python_interpreter
            <- {seed}<:{1}>
                | %{is_ground}: true
"""
SLOW_STEPS = '''"""Each step waits (at most 30 s) until GO-<seed> exists next to this file, then appends '+'."""

import time
from pathlib import Path

HERE = Path(__file__).parent


def step(x):
    gate = HERE / f"GO-{str(x).split('+')[0]}"
    deadline = time.monotonic() + 30
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return f"{x}+"
'''


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, plans: Path, store: list[str], tokens: Path | None, log: Path,
                 env: dict[str, str] | None = None) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("NCD_LLM_", "OPENAI_"))}
        self.env.update(env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.plans, self.store, self.tokens, self.log = plans, store, tokens, log
        self.proc: subprocess.Popen | None = None

    def start(self, *extra: str, max_runs: int = 3, per_run_concurrency: int = 2) -> Server:
        args = [sys.executable, "-m", "runtime.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                "--plans-dir", str(self.plans), *self.store, "--max-runs", str(max_runs),
                "--per-run-concurrency", str(per_run_concurrency), "--log-level", "warning", *extra]
        if self.tokens is not None:
            args += ["--token-file", str(self.tokens)]
        self.proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=self.log.open("ab"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"server exited: {self.log.read_text()}"
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server did not start: {self.log.read_text()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=20)


def db_server(plans: Path, work: Path, tokens: dict[str, str], llm_url: str, model: str = "m") -> Server:
    """A server on ``work/runs.db`` (``server.db``) whose token file gives each owner of ``tokens`` (owner → token)
    its token, with the model endpoint at ``llm_url``; not started yet (``.start(...)``)."""
    token_file = work / "tokens.txt"
    token_file.write_text("".join(f"{token} {owner}\n" for owner, token in tokens.items()))
    srv = Server(plans, ["--db", str(work / "runs.db")], token_file, work / "server.log",
                 env={"NCD_LLM_BASE_URL": llm_url, "NCD_LLM_API_KEY": "test-key", "NCD_LLM_MODEL": model})
    srv.db = work / "runs.db"
    return srv


def wait_status(client: httpx.Client, run_id: str, done=lambda s: s != "running", timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = client.get(f"/api/runs/{run_id}").json()
        if done(doc["status"]) and not doc.get("active"):
            return doc
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} still {doc['status']}")


def wait_for(predicate, timeout: float = 20, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def read_events(client: httpx.Client, run_id: str, headers: dict | None = None,
                opened: threading.Event | None = None) -> list[tuple[str, dict]]:
    """Every event of the stream until ``end``: (type, data). ``opened`` is set once the stream answered."""
    out: list[tuple[str, dict]] = []
    with client.stream("GET", f"/api/runs/{run_id}/events", headers=headers or {}) as resp:
        if opened is not None:
            opened.set()
        assert resp.status_code == 200, resp.read()
        assert resp.headers["content-type"].startswith("text/event-stream")
        kind = "message"
        for line in resp.iter_lines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                out.append((kind, json.loads(line[5:])))
                if kind == "end":
                    break
                kind = "message"
    return out


def error_of(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return body["error"]


def db_counts(db: Path) -> dict[str, int]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("runs", "results", "executions", "checkpoints", "run_inputs")}
