"""Prompt files as the reference writes them (issue 14, item 4; RUNTIME §10.2 as amended).

`.j2`/`.jinja` prompt files are jinja2 templates (sandboxed); every other prompt file gets `$`-placeholders
substituted only, with `string.Template.safe_substitute` semantics: `$input_N`/`${input_N}` by position in value
order, `$name`/`${name}` by the input concept's bare name, `$$` a literal `$`, anything else as written, and
`{%(…)}`/`{{…}}` literal text. `ncdc check --check-files` reports a prompt file that cannot render (NCD956).

Runs are real `ncd-run` subprocesses against the local OpenAI-compatible server (tests/openai_server.py); the
assertions are on the prompt the server received.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai_server import OpenAIServer

from runtime.executors.prompts import DollarTemplate, load_template
from runtime.load import load_plan

KEY = "sk-test-prompt-files-7e1d"
TEXT = "v_PromptLocation-h_Literal-c_Generate-o_Literal"


def write_plan(root: Path, prompt_annotation: str, files: dict[str, str | bytes],
               topic: str = "tides", audience: str = "children") -> Path:
    """`{answer}` from `{topic}` (input 1) and `{audience group}` (input 2) through one LLM step."""
    text = "\n".join([
        ":<:{answer}",
        "    <= ::(explain {1} to {2})",
        f"        | %{{norm_input}}: {TEXT}",
        f"        | {prompt_annotation}",
        "        | %{body_faculty}: llm",
        "    <- {topic}<:{1}>",
        f"        | %{{literal_value}}: {json.dumps(topic)}",
        "    <- {audience group}<:{2}>",
        f"        | %{{literal_value}}: {json.dumps(audience)}",
    ]) + "\n"
    root.mkdir(parents=True, exist_ok=True)
    (root / "plan.ncd").write_text(text, encoding="utf-8")
    for rel, body in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, bytes):
            (root / rel).write_bytes(body)
        else:
            (root / rel).write_text(body, encoding="utf-8")
    return root / "plan.ncd"


def run(plan: Path, server: OpenAIServer, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NCD_LLM", "OPENAI_"))}
    env.update(NCD_LLM_MODEL="test-model", NCD_LLM_BASE_URL=server.base_url, NCD_LLM_API_KEY=KEY)
    return subprocess.run([sys.executable, "-m", "runtime.cli", "run", str(plan), "--db", str(tmp_path / "runs.db"),
                           "--json"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)


def user_message(server: OpenAIServer) -> str:
    (request,) = server.chat_requests
    return next(m["content"] for m in request["messages"] if m["role"] == "user")


def ncdc_check(plan: Path, *options: str) -> list[dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-m", "ncdc", "check", "--format", "json", *options, str(plan)],
                          capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)["diagnostics"]


@pytest.fixture
def server():
    with OpenAIServer(lambda body: "an answer") as s:
        yield s


# ---------------------------------------------------------------- `$` prompt files at run time


def test_dollar_placeholders_render_with_the_inputs_in_a_real_run(tmp_path, server):
    prompt = ("Explain $input_1 to ${input_2}.\n"
              "By name: $topic for $audience_group (${audience group}).\n"
              "Costs $$5; $nothing and $input_9 stay; so does $5.\n")
    plan = write_plan(tmp_path / "plan", "%{prompt}: prompts/explain.md", {"prompts/explain.md": prompt})
    proc = run(plan, server, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["final"]["{answer}"]["data"] == ["an answer"]
    text = user_message(server)
    assert text.startswith("Explain tides to children.\n"
                           "By name: tides for children (children).\n"
                           "Costs $5; $nothing and $input_9 stay; so does $5.\n")
    assert "<input_1>" not in text  # the file placed the inputs itself


def test_input_text_is_data_and_is_never_expanded(tmp_path, server):
    plan = write_plan(tmp_path / "plan", "%{prompt}: prompts/explain.md",
                      {"prompts/explain.md": "Explain $input_1 to $input_2."},
                      topic="the $input_2 variable and {{ 7*7 }}")
    proc = run(plan, server, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert user_message(server).startswith("Explain the $input_2 variable and {{ 7*7 }} to children.")


def test_a_prompt_file_containing_jinja_syntax_literally_works(tmp_path, server):
    """8 of the reference's 130 prompt files contain `{%(…)}`; in a non-jinja file it is literal text."""
    prompt = "A literal is written {%(x)}; a block {% if %} and {{ braces }} stay too. Now explain $input_1."
    plan = write_plan(tmp_path / "plan", "%{v_input_provision}: prompts/literal.txt",
                      {"prompts/literal.txt": prompt})
    proc = run(plan, server, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert user_message(server).startswith(
        "A literal is written {%(x)}; a block {% if %} and {{ braces }} stay too. Now explain tides.")


def test_a_dollar_file_without_placeholders_still_gets_the_input_blocks(tmp_path, server):
    plan = write_plan(tmp_path / "plan", "%{prompt}: prompts/plain.md",
                      {"prompts/plain.md": "Explain [input 1] to [input 2]."})
    proc = run(plan, server, tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = user_message(server)
    assert text.startswith("Explain [input 1] to [input 2].")
    assert "<input_1>\ntides\n</input_1>" in text and "<input_2>\nchildren\n</input_2>" in text


def test_j2_files_are_still_jinja_templates(tmp_path, server):
    plan = write_plan(tmp_path / "plan", "%{prompt}: prompts/explain.j2",
                      {"prompts/explain.j2": "{{ input_1 | upper }} for {{ input_2 }}; ref style: $input_1"})
    proc = run(plan, server, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert user_message(server).startswith("TIDES for children; ref style: tides")


def test_the_replay_key_covers_the_bytes_of_a_dollar_prompt_file(tmp_path):
    plan_path = write_plan(tmp_path, "%{prompt}: prompts/explain.md", {"prompts/explain.md": "Explain $input_1."})
    plan = load_plan(plan_path)
    inf = plan.inferences["1"]  # the root step, as the LLM executor reads it
    before = load_template(plan, inf)
    assert before.sha256 == hashlib.sha256((tmp_path / "prompts/explain.md").read_bytes()).hexdigest()
    (tmp_path / "prompts/explain.md").write_text("Explain $input_1!", encoding="utf-8")
    assert load_template(plan, inf).sha256 != before.sha256


@given(st.text().filter(lambda t: "$" not in t))
def test_a_dollar_file_without_dollar_signs_renders_unchanged(source):
    template = DollarTemplate(source, ("{a}", "{b}"))
    assert template.render(["x", "y"], {}) == source and template.placeholders() == []


@given(st.lists(st.text(), min_size=2, max_size=2))
def test_dollar_substitution_is_one_pass_so_input_text_stays_data(texts):
    template = DollarTemplate("<$input_1|${input_2}|$b|$$input_1>", ("{a}", "{b}"))
    assert template.render(texts, {}) == f"<{texts[0]}|{texts[1]}|{texts[1]}|$input_1>"


# ---------------------------------------------------------------- ncdc check --check-files (NCD956)


def test_check_files_reports_a_broken_j2_at_the_annotation(tmp_path):
    plan = write_plan(tmp_path, "%{prompt}: prompts/broken.j2",
                      {"prompts/broken.j2": "Explain {{ input_1 }}\nto {{ input_2 }} {% if %}\n"})
    (found,) = [d for d in ncdc_check(plan, "--check-files") if d["code"] == "NCD956"]
    assert (found["line"], found["column"]) == (4, 11)  # the `%{prompt}` annotation
    assert "prompts/broken.j2" in found["message"] and "prompts/broken.j2:2" in found["message"]
    assert found["severity"] == "warning"


def test_a_broken_j2_is_not_reported_without_check_files(tmp_path):
    plan = write_plan(tmp_path, "%{prompt}: prompts/broken.j2", {"prompts/broken.j2": "{% if %}"})
    assert [d for d in ncdc_check(plan) if d["code"] == "NCD956"] == []


def test_check_files_accepts_jinja_syntax_in_a_dollar_prompt_file(tmp_path):
    plan = write_plan(tmp_path, "%{v_input_provision}: prompts/literal.md",
                      {"prompts/literal.md": "{%(x)} {% if %} $input_1"})
    assert [d for d in ncdc_check(plan, "--check-files") if d["code"] in ("NCD956", "NCD949")] == []


def test_check_files_reports_a_prompt_file_that_is_not_utf8(tmp_path):
    plan = write_plan(tmp_path, "%{prompt}: prompts/latin1.md", {"prompts/latin1.md": b"Explain caf\xe9 $input_1"})
    (found,) = [d for d in ncdc_check(plan, "--check-files") if d["code"] == "NCD956"]
    assert found["line"] == 4 and "not UTF-8" in found["message"]


def test_a_missing_prompt_file_is_ncd949_only(tmp_path):
    plan = write_plan(tmp_path, "%{prompt}: prompts/missing.j2", {})
    codes = {d["code"] for d in ncdc_check(plan, "--check-files")}
    assert "NCD949" in codes and "NCD956" not in codes


def test_check_files_reports_an_undefined_jinja_variable(tmp_path):
    plan = write_plan(tmp_path, "%{prompt}: prompts/vars.j2",
                      {"prompts/vars.j2": "{{ instruction }} {{ input_2 }} {{ topic }}"})
    (found,) = [d for d in ncdc_check(plan, "--check-files") if d["code"] == "NCD956"]
    assert found["line"] == 4 and "`topic`" in found["message"] and "`instruction`" not in found["message"]
