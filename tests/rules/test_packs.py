"""The pack loader: built-in packs load; bad packs fail closed with file, line, field and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.examples import run_examples, run_rule_examples
from rules.packs import BUILTIN_PACKS_DIR, PackError, load_pack_text, load_packs

GOOD_RULE = """\
pack: demo
version: "1.0.0"
rules:
  - id: demo.rule
    kind: forbidden_phrase
    severity: high
    params:
      phrases: [guaranteed returns]
    examples:
      positive:
        - transcript: ["agent: guaranteed returns"]
          expect: [forbidden_said]
      negative:
        - transcript: ["agent: hello"]
          expect: [forbidden_said]
"""


def problems(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(PackError) as info:
        load_pack_text(text, "demo.yaml")
    assert all(p.file == "demo.yaml" for p in info.value.problems)
    assert "demo.yaml:" in str(info.value)
    return [(p.line, p.field, p.message) for p in info.value.problems]


def test_builtin_packs_load_with_versions_and_languages() -> None:
    ruleset = load_packs()
    ids = {p.id for p in ruleset.packs}
    assert {"recording-disclosure", "consent", "gdpr", "conduct"} <= ids
    for pack in ruleset.packs:
        assert pack.version.count(".") == 2
    mine = [r for r in ruleset.rules if r.pack_id in {"recording-disclosure", "consent", "gdpr", "conduct"}]
    for rule in mine:
        assert rule.positive and rule.negative, rule.id
        languages = {e.language or rule.language for e in rule.positive + rule.negative}
        assert languages == {"en", "it"}, (rule.id, languages)


def test_good_pack_loads() -> None:
    pack = load_pack_text(GOOD_RULE, "demo.yaml")
    assert pack.rules[0].severity == "high" and pack.rules[0].pack_version == "1.0.0"


def test_yaml_syntax_error_names_the_line() -> None:
    found = problems(GOOD_RULE.replace("    severity: high\n", "    severity: [high\n"))
    assert found[0][0] == 7 and "invalid YAML" in found[0][2]
    assert "flow sequence started at line 6" in found[0][2]


def test_bad_severity_names_line_field_and_choices() -> None:
    found = problems(GOOD_RULE.replace("severity: high", "severity: urgent"))
    assert found == [(6, "rules[0].severity", "expected one of info, low, medium, high, critical, got 'urgent'")]


def test_unquoted_version_and_unknown_kind_and_typo_are_all_listed() -> None:
    text = GOOD_RULE.replace('"1.0.0"', "1.0").replace("forbidden_phrase", "forbiden").replace("severity:", "sevrity:")
    found = problems(text)
    fields = {f for _, f, _ in found}
    assert {"version", "rules[0].kind", "rules[0].sevrity", "rules[0].severity"} <= fields
    kind = next(p for p in found if p[1] == "rules[0].kind")
    assert kind[0] == 5 and "known:" in kind[2] and "required_phrase" in kind[2]
    version = next(p for p in found if p[1] == "version")
    assert version[0] == 2 and "quote it" in version[2]


def test_param_errors_point_into_params() -> None:
    text = GOOD_RULE.replace("phrases: [guaranteed returns]", "phrases: [guaranteed returns, 7]\n      threshold: 3")
    found = problems(text)
    assert (8, "rules[0].params.phrases[1]", "expected a non-empty phrase string, got 7") in found
    assert any(line == 9 and field == "rules[0].params.threshold" for line, field, _ in found)


def test_missing_negative_examples_is_an_error() -> None:
    text = GOOD_RULE.split("      negative:")[0]
    found = problems(text)
    assert any(f == "rules[0].examples.negative" and "required" in m for _, f, m in found)


def test_bad_transcript_line_is_reported() -> None:
    found = problems(GOOD_RULE.replace('"agent: hello"', '"supervisor: hello"'))
    assert found[0][0] == 14 and found[0][1] == "rules[0].examples.negative[0].transcript[0]"


def test_duplicate_rule_ids_across_packs(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD_RULE)
    (tmp_path / "b.yaml").write_text(GOOD_RULE.replace("pack: demo", "pack: demo2"))
    with pytest.raises(PackError) as info:
        load_packs([tmp_path], builtin=False)
    assert any("rule id also in" in p.message and p.file.endswith("b.yaml") for p in info.value.problems)


def test_missing_directory_fails_closed(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="not a directory"):
        load_packs([tmp_path / "nope"], builtin=False)


def test_builtin_dir_is_the_package_dir() -> None:
    assert (BUILTIN_PACKS_DIR / "consent.yaml").is_file()


def test_every_example_of_every_pack_passes() -> None:
    results = run_examples(load_packs())
    failures = [r for r in results if not r.passed]
    assert len(results) >= 40
    assert not failures, "\n".join(f"{r.rule_id} {r.polarity} {r.name!r}: {r.message}" for r in failures)


def test_a_rule_without_examples_fails_the_runner() -> None:
    spec = load_pack_text(GOOD_RULE, "demo.yaml").rules[0]
    from dataclasses import replace

    results = run_rule_examples(replace(spec, negative=()))
    assert [r.message for r in results if not r.passed] == ["rule has no negative examples"]
    wrong = replace(spec, positive=(replace(spec.positive[0], expect=("absent",)),))
    assert [r.passed for r in run_rule_examples(wrong)] == [False, True]
