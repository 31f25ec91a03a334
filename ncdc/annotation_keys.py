"""The annotation key catalogue (LANGUAGE.md §7.2, §7.3)."""

from __future__ import annotations

SYNTACTICAL_KEYS = frozenset({"flow_index", "sequence", "natural_language", "natural language", "ncdc"})

PERCEPTION_KEYS = frozenset(
    {"file_location", "prompt_location", "script_location", "save_path", "memorized_parameter", "location_string"}
)

BOOLEAN_KEYS = frozenset(
    {"is_ground", "is_invariant", "selector_packed", "selector_unpack", "selector_collapse"}
)

REFERENTIAL_KEYS = (
    frozenset(
        {
            "norm_input",
            "paradigm",
            "python",
            "body_faculty",
            "v_input_provision",
            "v_function_name",
            "prompt",
            "v_input_norm",
            "h_input_norm",
            "o_shape",
            "value_order",
            "assign_sources",
            "by_axes",
            "group_base",
            "loop_config",
            "literal_value",
            "ref_axes",
            "ref_shape",
            "ref_element",
            "ref_skip",
            "selector_source",
            "selector_key",
            "selector_index",
            "collapse_in_grouping",
            "parse",
            "serialize",
            "write_mode",
            "provision",
            "interaction_type",
            "cue_files",
        }
    )
    | PERCEPTION_KEYS
    | BOOLEAN_KEYS
)

START_FLAGS = (
    "start_without_value",
    "start_without_value_only_once",
    "start_without_function",
    "start_without_function_only_once",
    "start_with_support_reference_only",
    "start_without_support_reference_only_once",
)

# ?{sequence} family words (LANGUAGE.md §5.3), older synonyms included.
SEQUENCE_WORDS = {
    "imperative": "imperative",
    "judgement": "judgement",
    "judgment": "judgement",
    "assigning": "assigning",
    "grouping": "grouping",
    "timing": "timing",
    "looping": "looping",
    "quantifying": "looping",
    "assignment": "assigning",
    "input": "imperative",
}


def is_literal_key(key: str) -> bool:
    """``literal<$% NAME>``: a face value (functional line) or a ground declaration (value line)."""
    return key.startswith("literal<$%")
