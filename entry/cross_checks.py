"""Business rules tying the fields of one voucher together (the forms' `cross_checks` lists)."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from entry.check_digits import id_number_valid
from entry.field_spec import FieldSpec, FieldType
from entry.fieldtypes import validate_keyed

REQUIRED_RULE = "required fields present"


@dataclass(frozen=True)
class CrossCheckFailure:
    rule: str
    code: str
    message: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class _Context:
    rule: str
    specs: dict[str, FieldSpec]
    values: dict[str, str | None]
    processing_date: date

    def canonical(self, name: str) -> str | None:
        """The field's canonical value, or None when missing or not a valid value."""
        raw = self.values.get(name)
        if raw is None or not str(raw).strip():
            return None
        return validate_keyed(self.specs[name], str(raw)).value

    def invalid(self, *names: str) -> list[CrossCheckFailure]:
        """A failure for each present value that is not valid for its field type."""
        bad = [n for n in names if self.values.get(n) and str(self.values[n]).strip()]
        bad = [n for n in bad if self.canonical(n) is None]
        return [
            CrossCheckFailure(self.rule, "invalid_value", f"{self.label(n)}无效，无法校验", (n,))
            for n in bad
        ]

    def fail(self, code: str, message: str, *fields: str) -> list[CrossCheckFailure]:
        return [CrossCheckFailure(self.rule, code, message, fields)]

    def has_types(self, *types: str, names: tuple[str, ...]) -> bool:
        return all(self.specs[n].type in types for n in names)

    def label(self, name: str) -> str:
        return self.specs[name].label or name


def _check_equal(ctx: _Context, a: str, b: str) -> list[CrossCheckFailure]:
    va, vb = ctx.canonical(a), ctx.canonical(b)
    if va is None or vb is None or va == vb:
        return ctx.invalid(a, b)  # a missing value is reported by the required check
    if {ctx.specs[a].type, ctx.specs[b].type} <= {FieldType.AMOUNT, FieldType.AMOUNT_WORDS}:
        return ctx.fail("amount_mismatch", "大写金额与小写金额不一致", a, b)
    return ctx.fail("not_equal", f"{ctx.label(a)}与{ctx.label(b)}不一致", a, b)


def _check_differ(ctx: _Context, a: str, b: str) -> list[CrossCheckFailure]:
    va, vb = ctx.canonical(a), ctx.canonical(b)
    if va is None or vb is None or va != vb:
        return ctx.invalid(a, b)
    if ctx.specs[a].type == FieldType.ACCOUNT:
        return ctx.fail("same_account", "付款账号与收款账号不能相同", a, b)
    return ctx.fail("must_differ", f"{ctx.label(a)}与{ctx.label(b)}不能相同", a, b)


def _check_within_days(ctx: _Context, name: str, days: str) -> list[CrossCheckFailure]:
    if not ctx.has_types(FieldType.DATE, FieldType.DATE_WORDS, names=(name,)):
        return ctx.fail("unknown_rule", f"规则只适用于日期字段：{ctx.rule}", name)
    value = ctx.canonical(name)
    if value is None:
        return ctx.invalid(name)
    age = (ctx.processing_date - date.fromisoformat(value)).days
    if age < 0:
        return ctx.fail("date_future", f"{ctx.label(name)}晚于处理日期", name)
    if age > int(days):
        return ctx.fail("date_expired", f"{ctx.label(name)}已超过{days}天提示付款期", name)
    return []


def _check_checksum(ctx: _Context, name: str) -> list[CrossCheckFailure]:
    if not ctx.has_types(FieldType.ID_NUMBER, names=(name,)):
        return ctx.fail("unknown_rule", f"规则只适用于身份证号码字段：{ctx.rule}", name)
    raw = str(ctx.values.get(name) or "").strip()
    if raw and not id_number_valid(ctx.canonical(name) or raw):
        return ctx.fail("id_checksum", "身份证号码校验位不正确", name)
    return []


def _check_after(ctx: _Context, a: str, b: str) -> list[CrossCheckFailure]:
    if not ctx.has_types(FieldType.DATE, FieldType.DATE_WORDS, names=(a, b)):
        return ctx.fail("unknown_rule", f"规则只适用于日期字段：{ctx.rule}", a, b)
    va, vb = ctx.canonical(a), ctx.canonical(b)
    if va is None or vb is None:
        return ctx.invalid(a, b)
    if date.fromisoformat(va) <= date.fromisoformat(vb):
        return ctx.fail("not_after", f"{ctx.label(a)}应晚于{ctx.label(b)}", a, b)
    return []


def _check_gender(
    ctx: _Context, gender: str, id_field: str, digit: str, type_field: str, type_value: str
) -> list[CrossCheckFailure]:
    if ctx.canonical(type_field) != type_value.strip():
        return ctx.invalid(type_field)
    g, number = ctx.canonical(gender), ctx.canonical(id_field)
    position = int(digit)
    if g is None or number is None:
        return ctx.invalid(gender, id_field)
    if not 1 <= position <= len(number) or not number[position - 1].isdigit():
        return ctx.fail("unknown_rule", f"规则中的位数无效：{ctx.rule}", id_field)
    expected = "男" if int(number[position - 1]) % 2 else "女"
    if g != expected:
        return ctx.fail("gender_mismatch", "性别与身份证号码不符", gender, id_field)
    return []


_W = r"([A-Za-z_]\w*)"
_RULES: tuple[tuple[re.Pattern[str], Callable[..., list[CrossCheckFailure]], tuple[int, ...]], ...]
_RULES = (
    (re.compile(rf"{_W} == {_W}"), _check_equal, (1, 2)),
    (re.compile(rf"{_W} != {_W}"), _check_differ, (1, 2)),
    (re.compile(rf"{_W} within (\d+) days before processing date"), _check_within_days, (1,)),
    (re.compile(rf"{_W} checksum \(GB 11643\)"), _check_checksum, (1,)),
    (re.compile(rf"{_W} after {_W}"), _check_after, (1, 2)),
    (
        re.compile(rf"{_W} agrees with {_W} digit (\d+) when {_W} is (\S+)"),
        _check_gender,
        (1, 2, 4),
    ),
)


def _evaluate_rule(ctx: _Context) -> list[CrossCheckFailure]:
    for pattern, check, field_groups in _RULES:
        m = pattern.fullmatch(ctx.rule.strip())
        if m is None:
            continue
        names = [m.group(i) for i in field_groups]
        unknown = [n for n in names if n not in ctx.specs]
        if unknown:
            return ctx.fail("unknown_rule", f"校验规则引用了不存在的字段：{ctx.rule}", *unknown)
        return check(ctx, *m.groups())
    return ctx.fail("unknown_rule", f"未知的校验规则：{ctx.rule}")


def _check_required(specs: dict[str, FieldSpec], values: dict) -> list[CrossCheckFailure]:
    return [
        CrossCheckFailure(REQUIRED_RULE, "required", f"{spec.label or name}为必填项", (name,))
        for name, spec in specs.items()
        if spec.required and not str(values.get(name) or "").strip()
    ]


def evaluate_cross_checks(
    form: dict, values: dict[str, str | None], *, processing_date: date
) -> list[CrossCheckFailure]:
    """Every failed rule of the form (plus missing required fields); empty list means all pass.

    A rule string this module does not understand fails with code `unknown_rule`.
    """
    specs = {f["name"]: FieldSpec.from_dict(f) for f in form.get("fields", [])}
    failures = _check_required(specs, values)
    for rule in form.get("cross_checks", []):
        if rule.strip() == REQUIRED_RULE:
            continue
        ctx = _Context(rule, specs, values, processing_date)
        failures.extend(_evaluate_rule(ctx))
    return failures
