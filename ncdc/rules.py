"""The catalogue of diagnostic codes: one source of truth for severities, titles and `ncdc explain`.

Codes are stable (CHECKS.md §2): a code is never reused for a different meaning. Retired codes (NCD409; NCD207,
NCD213, NCD302 and NCD405 by FIDELITY.md §7) are kept here only so that nothing ever reports or reuses them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ncdc.severity import Severity


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    severity: Severity | None  # None: retired code, never reported
    title: str
    replaced_by: str = ""  # for a retired code: what reports the situation now (shown by `ncdc explain`)


_RULES: tuple[Rule, ...] = (
    Rule("NCD101", Severity.ERROR, 'TAB in the indentation of a concept line'),
    Rule("NCD102", Severity.ERROR, 'concept-line indentation is not a multiple of 4'),
    Rule("NCD103", Severity.ERROR, 'concept line more than one level deeper than the previous one'),
    Rule("NCD104", Severity.ERROR, 'first concept line does not start in column 1'),
    Rule("NCD105", Severity.ERROR, 'file is not valid UTF-8'),
    Rule("NCD110", Severity.ERROR, 'informal line (no marker, not a comment or annotation)'),
    Rule("NCD111", Severity.ERROR, 'payload syntax error'),
    Rule("NCD112", Severity.ERROR, 'unbalanced brackets in a concept line'),
    Rule("NCD113", Severity.ERROR, 'draft-format (unformalized) content'),
    Rule("NCD114", Severity.ERROR, 'action used as a value'),
    Rule("NCD115", Severity.ERROR, 'malformed truth assertion'),
    Rule("NCD116", Severity.ERROR, 'malformed annotation value'),
    Rule("NCD117", Severity.ERROR, 'malformed modifier argument'),
    Rule("NCD120", Severity.ERROR, 'legacy index/sequence tail'),
    Rule("NCD121", Severity.ERROR, 'legacy call-form assignment'),
    Rule("NCD122", Severity.ERROR, 'legacy grouping operator'),
    Rule("NCD123", Severity.ERROR, 'legacy timing operator'),
    Rule("NCD124", Severity.ERROR, 'legacy loop operator'),
    Rule("NCD125", Severity.ERROR, 'legacy angle-bodied operation'),
    Rule("NCD126", Severity.ERROR, 'legacy norm-in-braces agent'),
    Rule("NCD127", Severity.ERROR, 'legacy input-norm agent'),
    Rule("NCD128", Severity.ERROR, 'legacy tag, binding, placeholder or query suffix'),
    Rule("NCD129", Severity.ERROR, 'functional type symbol used as an operation'),
    Rule("NCD130", Severity.ERROR, 'unimplemented construct'),
    Rule("NCD201", Severity.ERROR, 'empty plan'),
    Rule("NCD202", Severity.ERROR, 'more than one root'),
    Rule("NCD203", Severity.ERROR, 'marker in an impossible place'),
    Rule("NCD204", Severity.ERROR, 'inference without a functional concept'),
    Rule("NCD205", Severity.ERROR, 'inference with several functional concepts'),
    Rule("NCD206", Severity.ERROR, 'functional concept is not the first child'),
    Rule("NCD207", None, 'retired; never reused (was: timing operator used as the function of a value concept)', "NCD928 (warning): the timing line is compiled as a gated `$.` selection"),
    Rule("NCD208", Severity.ERROR, 'functional line with unexpected children'),
    Rule("NCD212", Severity.ERROR, 'operator modifier missing, duplicated or not allowed'),
    Rule("NCD213", None, 'retired; never reused (was: `$+` result does not denote its destination)', "a `$+` whose result names another concept is the functional form; inside a loop body that does not accumulate it is NCD955 (warning)"),
    Rule("NCD301", Severity.ERROR, 'dependency cycle'),
    Rule("NCD302", None, 'retired; never reused (was: operand not declared as a sibling line)', "NCD935 (warning): the undeclared operand becomes an implicit input"),
    Rule("NCD303", Severity.ERROR, 'ground concept is also produced'),
    Rule("NCD304", Severity.ERROR, 'conflicting declarations for one concept'),
    Rule("NCD305", Severity.ERROR, 'one functional text with conflicting executor annotations'),
    Rule("NCD401", Severity.ERROR, 'gate condition is not a proposition'),
    Rule("NCD402", Severity.ERROR, 'gate condition is neither judged nor a ground truth value'),
    Rule("NCD403", Severity.ERROR, 'gated functional text is not unique'),
    Rule("NCD404", Severity.ERROR, 'loop base is not a collection'),
    Rule("NCD405", None, 'retired; never reused (was: judgement does not infer a proposition)', "NCD944 (warning): a judgement inferring an object or a relation"),
    Rule("NCD406", Severity.ERROR, 'duplicate binding'),
    Rule("NCD407", Severity.ERROR, 'bindings are not consecutive from 1'),
    Rule("NCD408", Severity.ERROR, 'placeholders and bindings disagree'),
    Rule("NCD409", None, 'reserved; never reused'),
    Rule("NCD410", Severity.ERROR, '`$.` has no candidate'),
    Rule("NCD411", Severity.ERROR, 'per-source axis lists do not match the sources'),
    Rule("NCD501", Severity.ERROR, 'malformed loop'),
    Rule("NCD502", Severity.ERROR, 'loop base not declared'),
    Rule("NCD503", Severity.ERROR, 'loop element declaration missing, duplicated or mismatched'),
    Rule("NCD504", Severity.ERROR, 'loop result mismatch'),
    Rule("NCD505", Severity.ERROR, 'loop expression is not unique'),
    Rule("NCD506", Severity.ERROR, 'current element referenced under the wrong name or out of scope'),
    Rule("NCD507", Severity.ERROR, 'carried reference out of scope or undeclared'),
    Rule("NCD508", Severity.ERROR, 'carried concept without an initial value'),
    Rule("NCD509", Severity.ERROR, 'carried concept declared non-invariant'),
    Rule("NCD510", Severity.ERROR, '`$+` destination in a loop body cannot persist'),
    Rule("NCD511", Severity.ERROR, "loop body depends on the loop's own result"),
    Rule("NCD512", Severity.ERROR, 'invariant concept produced inside its loop body by an inference other than a `$+` append or its carry'),
    Rule("NCD910", Severity.INFO, 'annotation continuation line joined'),
    Rule("NCD911", Severity.WARNING, 'annotation line not deeper than any owner'),
    Rule("NCD912", Severity.WARNING, 'duplicate annotation key'),
    Rule("NCD913", Severity.WARNING, 'syntactical key written with `%`'),
    Rule("NCD914", Severity.INFO, 'unknown annotation key'),
    Rule("NCD915", Severity.INFO, '`%{paradigm}` alias used'),
    Rule("NCD916", Severity.WARNING, 'several provisions; only the first is used'),
    Rule("NCD917", Severity.WARNING, 'accepted spelling that is not the preferred form (the message names it)'),
    Rule("NCD920", Severity.WARNING, 'root not written with `:<:`'),
    Rule("NCD921", Severity.WARNING, 'explicit flow index differs'),
    Rule("NCD922", Severity.WARNING, '`?{sequence}` tag differs from the operator'),
    Rule("NCD923", Severity.INFO, 'grouping axis inferred'),
    Rule("NCD924", Severity.WARNING, 'gate condition not declared as a `<*` line'),
    Rule("NCD925", Severity.WARNING, 'context concept unused by this kind of inference'),
    Rule("NCD926", Severity.INFO, 'identification marker on a `$+` result is a label only'),
    Rule("NCD927", Severity.WARNING, 'nested gate'),
    Rule("NCD928", Severity.WARNING, 'timing operator as the function of a value concept (compiled as a gated selection)'),
    Rule("NCD930", Severity.WARNING, 'several producers of one concept'),
    Rule("NCD931", Severity.WARNING, 'implicit ground concept'),
    Rule("NCD932", Severity.WARNING, '`$.` with several ungated candidates'),
    Rule("NCD933", Severity.WARNING, 'result never used (unreachable from the plan output)'),
    Rule("NCD934", Severity.WARNING, 'near-duplicate concept names'),
    Rule("NCD935", Severity.WARNING, 'operand not declared as a sibling line (added as an implicit input)'),
    Rule("NCD940", Severity.WARNING, 'binding on an input of a syntactic operator'),
    Rule("NCD941", Severity.INFO, 'partial binding'),
    Rule("NCD942", Severity.WARNING, 'placeholders without bindings'),
    Rule("NCD943", Severity.WARNING, 'non-boolean truth assertion'),
    Rule("NCD944", Severity.WARNING, 'concept kind unusual for the operation'),
    Rule("NCD945", Severity.WARNING, 'missing `%{body_faculty}`'),
    Rule("NCD946", Severity.WARNING, 'quantifier key is not an axis of an input'),
    Rule("NCD947", Severity.WARNING, 'loop base without declared axes'),
    Rule("NCD948", Severity.INFO, 'semantic operation runs on the default LLM executor (no executor annotation)'),
    Rule("NCD949", Severity.WARNING, 'referenced file not found (`--check-files`)'),
    Rule("NCD950", Severity.WARNING, 'loop index used by several loops'),
    Rule("NCD951", Severity.WARNING, 'loop-body concept consumed outside the loop'),
    Rule("NCD952", Severity.WARNING, 'carried concept not produced by the body'),
    Rule("NCD953", Severity.WARNING, 'semantic operation whose paradigm no executor handles'),
    Rule("NCD954", Severity.WARNING, 'list answer kept as one element: a declared axis the step does not create'),
    Rule("NCD955", Severity.WARNING, '`$+` in a loop body that does not accumulate'),
    Rule("NCD956", Severity.WARNING, 'prompt file that cannot be rendered (`--check-files`)'),
    Rule("NCD990", Severity.WARNING, 'unused suppression'),
    Rule("NCD991", Severity.WARNING, 'invalid suppression'),
)

RULES: dict[str, Rule] = {rule.code: rule for rule in _RULES}


def rule(code: str) -> Rule:
    """The rule for ``code``; raises KeyError for an unknown code (a programming error)."""
    return RULES[code]


def is_known_code_or_prefix(entry: str) -> bool:
    """True when ``entry`` is a known code or a prefix of at least one known code (``NCD9``, ``NCD93``)."""
    return entry.startswith("NCD") and any(code.startswith(entry) for code in RULES)
