"""Schemathesis hooks of tests/test_server_schema.py, loaded by the ``st`` process (config ``hooks = PATH``).

One custom check, ``domain_refusals_only``: a request schemathesis generated as *valid* for the OpenAPI document may
still be refused by the run server, but only for reasons the document cannot express — a plan id that is not
registered, inputs the plan does not accept or lacks, a checkpoint cycle the run does not have (422 with one of the
codes below), a run that does not exist or is someone else's (404), or the state of a run (409). A schema-valid
request refused as malformed (``invalid_request``: the server's own validation is stricter than its document says),
or answered 400/413/415, fails. It narrows the ``positive_data_acceptance`` exemption the test's configuration
grants to the operations that can answer such a 422.
"""

from __future__ import annotations

import json

import schemathesis

# The 422 codes of runtime/server/runs.py that depend on data outside the request (registered plans, a plan's
# concepts, a run's checkpoints), not on the request's shape.
DOMAIN_422 = frozenset({"unknown_plan", "plan_invalid", "unknown_input", "invalid_input", "missing_input",
                        "invalid_run", "resume_refused", "fork_refused"})


def _request_shape_probe(case) -> bool:
    try:  # coverage-phase probes of the request's shape (a wrong method, ...): not generated data
        from schemathesis.specs.openapi.checks import is_unexpected_http_status_case
    except ImportError:  # pragma: no cover - another schemathesis version
        return False
    return is_unexpected_http_status_case(case)


@schemathesis.check
def domain_refusals_only(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or _request_shape_probe(case):
        return None
    status = response.status_code
    if status < 400 or status in (401, 404, 409) or status >= 500:  # 5xx: not_a_server_error reports those
        return None
    try:
        code = json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = None
    if status == 422 and code in DOMAIN_422:
        return None
    raise AssertionError(f"a request valid for the OpenAPI document was refused with {status} {code!r} "
                         f"(allowed: 404, 409, or 422 with one of {sorted(DOMAIN_422)})")
