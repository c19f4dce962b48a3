"""The declared credit grade rules (``credit_rules.toml``): grades, facts and ordered rules.

The grade of a subject (an entity by USCC, a person by resident ID) is data, not code: the
TOML file declares the grades, the facts a rule may test and the rules in order, and
:mod:`transforms.credit` computes the facts and applies the rules. For each subject the
first rule whose conditions all hold gives the grade. A condition is a list of
``{fact, op, value}`` clauses that must all hold; nothing in the file is evaluated as code.

Everything is checked when loaded, and each error names the file, the rule or fact and
the fix:

>>> rules = load_credit_rules()
>>> [rule.id for rule in rules.rules_for("person")][:2]
['dishonest_listed', 'severe_penalty']
>>> str(rules.rule("tax_a_clean").when[0])
'tax_grade == "A"'

``python -m lake.catalog.credit_rules --write-docs`` rewrites the generated part of
docs/credit.md from the file; ``--check`` only reports whether it is up to date.
"""

from __future__ import annotations

import re
import string
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args

from govlake.errors import ConfigError, did_you_mean
from lake.catalog.load import CATALOG_DIR, need, read_toml
from lake.catalog.model import Catalog

RULES_FILE = CATALOG_DIR / "credit_rules.toml"
DOCS_FILE = CATALOG_DIR.parent.parent / "docs" / "credit.md"

Subject = Literal["entity", "person"]
FactType = Literal["bool", "int", "float", "str"]
Op = Literal["==", "!=", ">", ">=", "<", "<=", "in", "not in"]
Value = bool | int | float | str | tuple[str, ...]

SUBJECTS: tuple[str, ...] = get_args(Subject)
FACT_TYPES: tuple[str, ...] = get_args(FactType)
OPS: tuple[str, ...] = get_args(Op)
#: Which operators each fact type accepts.
OPS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "bool": ("==", "!="),
    "int": ("==", "!=", ">", ">=", "<", "<="),
    "float": ("==", "!=", ">", ">=", "<", "<="),
    "str": ("==", "!=", "in", "not in"),
}
SUBJECT_NAMES = {"entity": "单位", "person": "个人"}
FACT_TYPE_NAMES = {"bool": "是/否", "int": "整数", "float": "数值", "str": "代码"}

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_TOP_KEYS = ("grades", "facts", "rules")
_GRADE_KEYS = ("label", "description")
_FACT_KEYS = ("type", "subjects", "description", "code_table")
_RULE_KEYS = ("id", "title", "grade", "subjects", "when", "explanation")
_CLAUSE_KEYS = ("fact", "op", "value")
DOCS_BEGIN = "<!-- credit-rules:begin (generated from lake/catalog/credit_rules.toml; do not edit) -->"
DOCS_END = "<!-- credit-rules:end -->"


@dataclass(frozen=True)
class Grade:
    code: str
    label: str
    description: str


@dataclass(frozen=True)
class Fact:
    name: str
    type: FactType
    subjects: tuple[Subject, ...]
    description: str
    values: tuple[str, ...] | None = None  # allowed values of a str fact (from its code table)


@dataclass(frozen=True)
class Clause:
    """One condition of a rule: ``fact op value``."""

    fact: str
    op: Op
    value: Value

    def __str__(self) -> str:
        return f"{self.fact} {self.op} {_literal(self.value)}"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    grade: str
    subjects: tuple[Subject, ...]
    when: tuple[Clause, ...]  # all must hold; empty = matches every subject
    explanation: str

    @property
    def catch_all(self) -> bool:
        return not self.when

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The fact names the explanation quotes, in order of appearance."""
        return tuple(name for _, name, _, _ in string.Formatter().parse(self.explanation) if name)

    def explanation_parts(self) -> list[tuple[str, str | None]]:
        """The explanation as (literal text, fact name or None) pieces, for vectorized rendering."""
        return [(literal, name or None) for literal, name, _, _ in string.Formatter().parse(self.explanation)]


@dataclass(frozen=True)
class CreditRules:
    path: Path
    grades: dict[str, Grade]  # best first, in file order
    facts: dict[str, Fact]  # in file order, which is the column order of the credit tables
    rules: tuple[Rule, ...]

    def facts_for(self, subject: Subject) -> list[Fact]:
        return [fact for fact in self.facts.values() if subject in fact.subjects]

    def rules_for(self, subject: Subject) -> list[Rule]:
        return [rule for rule in self.rules if subject in rule.subjects]

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        ids = [rule.id for rule in self.rules]
        raise ConfigError(f"no rule {rule_id!r}{did_you_mean(rule_id, ids)}", location=str(self.path))


def _literal(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    return repr(value)


def _no_unknown_keys(table: dict[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(
                f"unknown key {key!r}{did_you_mean(key, allowed)}; allowed keys are {', '.join(allowed)}",
                location=where,
            )


def _subjects(value: Any, where: str) -> tuple[Subject, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(
            f"'subjects' must be a non-empty list of {', '.join(SUBJECTS)}, got {value!r}", location=where
        )
    for subject in value:
        if subject not in SUBJECTS:
            raise ConfigError(
                f"subject {subject!r} is not one of {', '.join(SUBJECTS)}"
                f"{did_you_mean(str(subject), SUBJECTS)}",
                location=where,
            )
    if len(set(value)) != len(value):
        raise ConfigError(f"'subjects' lists a subject twice: {value!r}; list each once", location=where)
    return tuple(value)


def _load_grades(raw: Any, where: str) -> dict[str, Grade]:
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(
            "[grades] is missing or empty; declare each grade as [grades.<code>] with "
            "label and description, best first",
            location=where,
        )
    grades = {}
    for code, table in raw.items():
        grade_where = f"{where} [grades.{code}]"
        if not isinstance(table, dict):
            raise ConfigError(
                f"must be a table with label and description, got {table!r}", location=grade_where
            )
        _no_unknown_keys(table, _GRADE_KEYS, grade_where)
        grades[code] = Grade(
            code, need(table, "label", str, grade_where), need(table, "description", str, grade_where)
        )
    return grades


def _load_facts(raw: Any, where: str, catalog: Catalog) -> dict[str, Fact]:
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(
            "[facts] is missing or empty; declare the facts rules may test as [facts.<name>]", location=where
        )
    facts = {}
    for name, table in raw.items():
        fact_where = f"{where} [facts.{name}]"
        if not _NAME.match(name):
            raise ConfigError(
                f"fact name {name!r} must be lower_snake_case (it becomes a column name)", location=fact_where
            )
        if not isinstance(table, dict):
            raise ConfigError(
                f"must be a table with type, subjects and description, got {table!r}", location=fact_where
            )
        _no_unknown_keys(table, _FACT_KEYS, fact_where)
        kind = table.get("type")
        if kind not in FACT_TYPES:
            raise ConfigError(
                f"type {kind!r} is not one of {', '.join(FACT_TYPES)}{did_you_mean(str(kind), FACT_TYPES)}",
                location=fact_where,
            )
        values = None
        if "code_table" in table:
            if kind != "str":
                raise ConfigError(
                    f"code_table applies to str facts only; this fact is {kind}; remove it",
                    location=fact_where,
                )
            code_table = table["code_table"]
            if code_table not in catalog.code_tables:
                raise ConfigError(
                    f"code_table {code_table!r} is not in lake/standards/code_tables"
                    f"{did_you_mean(str(code_table), catalog.code_tables)}",
                    location=fact_where,
                )
            values = tuple(catalog.code_tables[code_table].codes)
        facts[name] = Fact(
            name,
            kind,
            _subjects(table.get("subjects"), fact_where),
            need(table, "description", str, fact_where),
            values,
        )
    return facts


def _check_value(fact: Fact, op: str, value: Any, where: str) -> Value:
    """The clause's value, checked against the fact's type and the operator."""
    if fact.type == "bool":
        if not isinstance(value, bool):
            raise ConfigError(
                f"fact {fact.name!r} is a bool; compare it with true or false, got {value!r}", location=where
            )
        return value
    if fact.type in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(
                f"fact {fact.name!r} is a number ({fact.type}); the value must be a number, got {value!r}",
                location=where,
            )
        if fact.type == "int" and isinstance(value, float) and not value.is_integer():
            raise ConfigError(
                f"fact {fact.name!r} counts whole things; use a whole number, got {value!r}", location=where
            )
        return value
    listed = op in ("in", "not in")
    items = value if listed else [value]
    if listed and (not isinstance(value, list) or not value):
        raise ConfigError(f"op {op!r} needs a non-empty list of strings, got {value!r}", location=where)
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(
                f"fact {fact.name!r} is a code; the value must be a string, got {item!r}", location=where
            )
        if fact.values is not None and item not in fact.values:
            raise ConfigError(
                f"value {item!r} is not a code of fact {fact.name!r} ({', '.join(fact.values)})"
                f"{did_you_mean(item, fact.values)}",
                location=where,
            )
    return tuple(items) if listed else value


def _load_clause(raw: Any, facts: dict[str, Fact], subjects: tuple[Subject, ...], where: str) -> Clause:
    if not isinstance(raw, dict):
        raise ConfigError(
            f"a condition must be a table {{ fact = ..., op = ..., value = ... }}, got {raw!r}",
            location=where,
        )
    _no_unknown_keys(raw, _CLAUSE_KEYS, where)
    for key in _CLAUSE_KEYS:
        if key not in raw:
            raise ConfigError(
                f"condition {raw!r} has no {key!r}; write {{ fact = ..., op = ..., value = ... }}",
                location=where,
            )
    name, op = raw["fact"], raw["op"]
    if name not in facts:
        raise ConfigError(
            f"unknown fact {name!r}{did_you_mean(str(name), facts)}; declare it under [facts] "
            "or use a declared one",
            location=where,
        )
    fact = facts[name]
    missing = [subject for subject in subjects if subject not in fact.subjects]
    if missing:
        raise ConfigError(
            f"fact {name!r} exists for {', '.join(fact.subjects)} only, but the rule applies to "
            f"{', '.join(missing)} too; narrow the rule's subjects",
            location=where,
        )
    if op not in OPS_BY_TYPE[fact.type]:
        raise ConfigError(
            f"op {op!r} does not apply to {fact.type} fact {name!r}; use one of "
            f"{', '.join(OPS_BY_TYPE[fact.type])}{did_you_mean(str(op), OPS_BY_TYPE[fact.type])}",
            location=where,
        )
    return Clause(name, op, _check_value(fact, op, raw["value"], where))


def _check_explanation(text: str, facts: dict[str, Fact], subjects: tuple[Subject, ...], where: str) -> None:
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ConfigError(
            f"explanation {text!r} has unbalanced braces ({exc}); write {{fact}} to quote a "
            "fact, {{{{ or }}}} for a literal brace",
            location=where,
        ) from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in facts:
            raise ConfigError(
                f"explanation quotes unknown fact {{{name}}}{did_you_mean(name, facts)}", location=where
            )
        if spec or conversion:
            raise ConfigError(
                f"explanation placeholder {{{name}}} takes no format; write {{{name}}}", location=where
            )
        missing = [subject for subject in subjects if subject not in facts[name].subjects]
        if missing:
            raise ConfigError(
                f"explanation quotes {{{name}}}, which {', '.join(missing)} subjects do not have; "
                "narrow the rule's subjects or quote another fact",
                location=where,
            )


def _load_rules(raw: Any, where: str, grades: dict[str, Grade], facts: dict[str, Fact]) -> tuple[Rule, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError("no [[rules]]; declare the grade rules in order, first match wins", location=where)
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, table in enumerate(raw, start=1):
        rule_where = f"{where} [[rules]] #{index}"
        if not isinstance(table, dict):
            raise ConfigError(f"must be a table, got {table!r}", location=rule_where)
        rule_id = need(table, "id", str, rule_where)
        rule_where = f"{where} [[rules]] #{index} (id = {rule_id!r})"
        if not _NAME.match(rule_id):
            raise ConfigError(f"id {rule_id!r} must be lower_snake_case", location=rule_where)
        if rule_id in seen:
            raise ConfigError(
                f"id {rule_id!r} is used by an earlier rule; give each rule its own id", location=rule_where
            )
        seen.add(rule_id)
        _no_unknown_keys(table, _RULE_KEYS, rule_where)
        grade = need(table, "grade", str, rule_where)
        if grade not in grades:
            raise ConfigError(
                f"grade {grade!r} is not declared under [grades] ({', '.join(grades)})"
                f"{did_you_mean(grade, grades)}",
                location=rule_where,
            )
        subjects = _subjects(table.get("subjects"), rule_where)
        when = table.get("when", [])
        if not isinstance(when, list):
            raise ConfigError(
                f"'when' must be a list of {{ fact, op, value }} conditions, got {when!r}",
                location=rule_where,
            )
        clauses = tuple(_load_clause(clause, facts, subjects, rule_where) for clause in when)
        explanation = need(table, "explanation", str, rule_where)
        _check_explanation(explanation, facts, subjects, rule_where)
        rules.append(
            Rule(rule_id, need(table, "title", str, rule_where), grade, subjects, clauses, explanation)
        )
    for subject in SUBJECTS:
        applicable = [rule for rule in rules if subject in rule.subjects]
        catch_all = next((rule for rule in applicable if rule.catch_all), None)
        if catch_all is None:
            raise ConfigError(
                f"no catch-all rule for {subject} subjects, so some would get no grade; end the "
                f"{subject} rules with a rule without 'when'",
                location=where,
            )
        after = applicable[applicable.index(catch_all) + 1 :]
        if after:
            raise ConfigError(
                f"rule {after[0].id!r} can never match {subject} subjects: the catch-all rule "
                f"{catch_all.id!r} comes first; move it above {catch_all.id!r} or narrow its subjects",
                location=where,
            )
    return tuple(rules)


def load_credit_rules_from(path: Path, catalog: Catalog) -> CreditRules:
    """Read and check a credit rules file. Raises :class:`ConfigError` naming the file, rule and fix."""
    raw = read_toml(path)
    where = str(path)
    _no_unknown_keys(raw, _TOP_KEYS, where)
    grades = _load_grades(raw.get("grades"), where)
    facts = _load_facts(raw.get("facts"), where, catalog)
    return CreditRules(path, grades, facts, _load_rules(raw.get("rules"), where, grades, facts))


@lru_cache(maxsize=1)
def load_credit_rules() -> CreditRules:
    """The shipped rules (``lake/catalog/credit_rules.toml``), loaded and checked once per process."""
    from lake.catalog import load_catalog

    return load_credit_rules_from(RULES_FILE, load_catalog())


# --- documentation -------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def rules_markdown(rules: CreditRules) -> str:
    """The generated part of docs/credit.md: grades, rules in order, and facts, as Markdown tables."""
    lines = ["### Grades", "", "| Grade | Label | Meaning |", "|---|---|---|"]
    lines += [f"| {g.code} | {g.label} | {_cell(g.description)} |" for g in rules.grades.values()]
    lines += [
        "",
        "### Rules, in order (first match wins)",
        "",
        "| # | Rule | Title | Grade | Applies to | Conditions (all must hold) | Explanation shown |",
        "|---|---|---|---|---|---|---|",
    ]
    for number, rule in enumerate(rules.rules, start=1):
        condition = " and ".join(f"`{clause}`" for clause in rule.when) or "every remaining subject"
        subjects = "、".join(SUBJECT_NAMES[s] for s in rule.subjects)
        grade = f"{rule.grade} {rules.grades[rule.grade].label}"
        lines.append(
            f"| {number} | `{rule.id}` | {_cell(rule.title)} | {grade} | {subjects} | {_cell(condition)} "
            f"| {_cell(rule.explanation)} |"
        )
    lines += ["", "### Facts", "", "| Fact | Type | Applies to | Meaning |", "|---|---|---|---|"]
    for fact in rules.facts.values():
        kind = FACT_TYPE_NAMES[fact.type] + (f"（{'、'.join(fact.values)}）" if fact.values else "")
        subjects = "、".join(SUBJECT_NAMES[s] for s in fact.subjects)
        lines.append(f"| `{fact.name}` | {kind} | {subjects} | {_cell(fact.description)} |")
    return "\n".join(lines) + "\n"


def docs_with_rules(document: str, rules: CreditRules) -> str:
    """``document`` with the text between the generated-section markers replaced by :func:`rules_markdown`."""
    begin, end = document.find(DOCS_BEGIN), document.find(DOCS_END)
    if begin < 0 or end < begin:
        raise ConfigError(
            f"the generated section markers are missing; put {DOCS_BEGIN!r} and {DOCS_END!r} "
            "on lines of their own where the rules should go",
            location=str(DOCS_FILE),
        )
    return document[: begin + len(DOCS_BEGIN)] + "\n\n" + rules_markdown(rules) + "\n" + document[end:]


def main(argv: Sequence[str] | None = None) -> int:
    """``--write-docs`` rewrites the generated section of docs/credit.md; ``--check`` says if it is stale."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args not in (["--write-docs"], ["--check"]):
        print("usage: python -m lake.catalog.credit_rules --write-docs | --check", file=sys.stderr)
        return 2
    current = DOCS_FILE.read_text(encoding="utf-8")
    expected = docs_with_rules(current, load_credit_rules())
    if args == ["--check"]:
        stale = current != expected
        print(f"{DOCS_FILE} is {'out of date; run with --write-docs' if stale else 'up to date'}")
        return int(stale)
    DOCS_FILE.write_text(expected, encoding="utf-8")
    print(f"wrote the rules section of {DOCS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
