"""Record `replay.jsonl` for the doc_review example.

    python examples/doc_review/record.py                    # stand-in model, rewrites replay.jsonl
    python examples/doc_review/record.py -o /tmp/r.jsonl    # write somewhere else
    python examples/doc_review/record.py --llm-model gpt-4o-mini [--llm-base-url URL]   # a real model

By default the answers come from a deterministic stand-in: a tiny OpenAI-compatible server on 127.0.0.1, started
here, whose "model" is the function `answer` below. It reads the prompt the way a model would (the `<section>` block
of the summary prompt, the `<input_N>` blocks of the other two) and answers in the shape each step asks for:

* summary (plan template `prompts/summarize_section.j2`, plain text): "Heading: first sentence of the section";
* check (built-in default template, a judgement): `true` when every figure of the section is in the summary;
* review (plan template `prompts/review.j2`, JSON mode): `{"thinking": …, "answer": {verdict, sections_to_revise,
  comment}}`.

The script runs the plan with `ncd-run run … --llm-base-url <stand-in>` into a temporary store and exports the run's
answers with `ncd-run export-replay`. The same files give the same bytes: rerun it after editing the document, the
inputs, a prompt template or the plan, and commit the new `replay.jsonl` (tests/test_example_doc_review.py checks that
the committed file is current).

With `--llm-model` the stand-in is not started: the run goes to that model (endpoint from `--llm-base-url` or
NCD_LLM_BASE_URL / OPENAI_BASE_URL, key from NCD_LLM_API_KEY / OPENAI_API_KEY), and the recording holds its answers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PLAN = HERE / "plan.ncd"
INPUTS = HERE / "inputs.json"
REPLAY = HERE / "replay.jsonl"
RUN_ID = "doc-review-recording"
STAND_IN_MODEL = "doc-review-stand-in"

_BLOCK = re.compile(r"<input_(\d+)>\n(.*?)\n</input_\1>", re.DOTALL)
_SECTION = re.compile(r"<section>\n(.*?)\n</section>", re.DOTALL)
_FIGURE = re.compile(r"\d+(?:[.,]\d+)*")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


# ---------------------------------------------------------------- the stand-in model

def figures(text: str) -> list[str]:
    """Numbers written with digits: `1,200`, `8`, `4,800`."""
    return _FIGURE.findall(text)


def summarise(section: str) -> str:
    heading, _, body = section.partition("\n")
    first = _SENTENCE.split(" ".join(body.split()), maxsplit=1)[0]
    return f"{heading.lstrip('#').strip()}: {first}"


def is_faithful(summary: str, section: str) -> bool:
    return all(f in figures(summary) for f in figures(section))


def review(section_reviews: list[dict[str, Any]]) -> dict[str, Any]:
    failed = [r["[section summaries]"].partition(":")[0] for r in section_reviews if not r["<summary is faithful>"]]
    if failed:
        comment = (f"{len(section_reviews) - len(failed)} of {len(section_reviews)} section summaries keep what "
                   f"their section says. The summary of {', '.join(failed)} leaves out figures the section states; "
                   f"revise it so that a reader of the summary alone sees them.")
    else:
        comment = f"All {len(section_reviews)} section summaries keep what their section says."
    return {"verdict": "revise" if failed else "accept", "sections_to_revise": failed, "comment": comment}


def answer(request: dict[str, Any]) -> str:
    """The stand-in's answer text to one chat request (a pure function of the request)."""
    prompt = request["messages"][-1]["content"]
    blocks = {int(n): text for n, text in _BLOCK.findall(prompt)}
    if prompt.startswith("summarise the section"):
        section = _SECTION.search(prompt)
        return summarise(section.group(1) if section else "")
    if prompt.startswith("check whether the summary"):
        return "true" if is_faithful(blocks[1], blocks[2]) else "false"
    if prompt.startswith("write a review of the document"):
        result = review(json.loads(blocks[1]))
        thinking = f"{len(result['sections_to_revise'])} failed check(s) out of {len(json.loads(blocks[1]))}."
        return json.dumps({"thinking": thinking, "answer": result}, ensure_ascii=False)
    return "I do not know this step."


class StandIn:
    """`POST /v1/chat/completions` on 127.0.0.1, answered by `answer`."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                text = answer(request)
                body = json.dumps({
                    "id": "chatcmpl-stand-in", "object": "chat.completion", "created": 0, "model": request["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> StandIn:  # noqa: PYI034 - typing.Self needs Python 3.11
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------- recording

def ncd_run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runtime.cli", *args], capture_output=True, text=True, env=env,
                          check=False)


def record(output: Path, model: str | None = None, base_url: str | None = None) -> dict[str, Any]:
    """Run the plan against the model and export its answers to ``output``; returns the run's --json result."""
    with tempfile.TemporaryDirectory(prefix="doc-review-") as tmp:
        db = str(Path(tmp) / "runs.db")
        if model is None:
            # the stand-in: no key, and no NCD_LLM_* / OPENAI_* setting of the caller's environment leaks in
            env = {k: v for k, v in os.environ.items() if not k.startswith(("NCD_LLM", "OPENAI_"))}
            with StandIn() as server:
                proc = ncd_run("run", str(PLAN), "--inputs", str(INPUTS), "--db", db, "--run-id", RUN_ID,
                               "--llm-model", STAND_IN_MODEL, "--llm-base-url", server.base_url, "--json", env=env)
        else:
            env = dict(os.environ)
            extra = ["--llm-base-url", base_url] if base_url else []
            proc = ncd_run("run", str(PLAN), "--inputs", str(INPUTS), "--db", db, "--run-id", RUN_ID,
                           "--llm-model", model, *extra, "--json", env=env)
        if proc.returncode != 0:
            raise SystemExit(f"record.py: the run did not complete (exit {proc.returncode}):\n{proc.stdout}"
                             f"{proc.stderr}")
        result = json.loads(proc.stdout)
        exported = ncd_run("export-replay", "--run-id", RUN_ID, "--db", db, "-o", str(output), env=env)
        if exported.returncode != 0:
            raise SystemExit(f"record.py: export-replay failed:\n{exported.stderr}")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--output", type=Path, default=REPLAY, help=f"default {REPLAY.name} next to this script")
    p.add_argument("--llm-model", help="record a real model's answers instead of the stand-in's")
    p.add_argument("--llm-base-url", help="with --llm-model: the OpenAI-compatible endpoint")
    args = p.parse_args(argv)
    result = record(args.output, args.llm_model, args.llm_base_url)
    lines = args.output.read_text(encoding="utf-8").splitlines()
    print(f"recorded {len(lines)} answers to {args.output}")
    print(json.dumps(result["final"], ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
