"""The mess injector: every change is recorded, and nothing recorded is a non-change."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from stdnum.cn import ric, uscc

from govlake.generate.mess import (
    CELL_KINDS,
    MessRates,
    bad_check_char,
    birth_date_conflict,
    date_format,
    entity_name_variant,
    inject,
    mistyped_id,
    transform,
)
from govlake.generate.names import name_variant
from govlake.generate.profiles import Profile


def test_scaling_the_rates():
    rates = MessRates()
    assert all(value == 0 for value in vars(rates.scaled(0)).values())
    assert rates.scaled(2).date_format == pytest.approx(2 * rates.date_format)
    assert rates.scaled(1000).lowercase_x == 1.0
    with pytest.raises(ValueError, match="0 or more"):
        rates.scaled(-1)


def test_transforms_always_change_the_value():
    rng = np.random.default_rng(0)
    for _ in range(300):
        assert date_format("2020-01-02", rng) in {"2020/1/2", "20200102", "2020年1月2日"}
        assert birth_date_conflict("1990-03-07", rng) != "1990-03-07"
        wrong = bad_check_char("330106199003071236", rng)
        assert wrong[:17] == "33010619900307123" and not ric.is_valid(wrong)
        assert not uscc.is_valid(bad_check_char("91110000600037341L", rng))
        assert mistyped_id("330106199003071236", rng) != "330106199003071236"
        assert name_variant("王伟", rng) != "王伟"
        assert entity_name_variant("杭州恒达商贸有限公司", rng) != "杭州恒达商贸有限公司"
    for kind in CELL_KINDS:
        value = "2020-01-02" if "date" in kind else "33010619900307123X"
        assert transform(kind, value, rng, person=True) != value


def _clean_frame(n: int) -> pl.DataFrame:
    rng = np.random.default_rng(1)
    ids = [f"33010619{rng.integers(50, 99)}0307{rng.integers(100, 999)}" for _ in range(n)]
    ids = [body + ("X" if i % 3 == 0 else "1") for i, body in enumerate(ids)]
    return pl.DataFrame({
        "key": [f"K{i:05d}" for i in range(n)],
        "resident_id": ids,
        "name": ["张伟"] * n,
        "birth_date": ["1990-03-07"] * n,
        "note": ["备注"] * (n - 5) + [None] * 5,
        "_person": ids,
    })


def test_inject_records_every_change_and_only_changes():
    clean = _clean_frame(3_000)
    profile = Profile(
        cells={"resident_id": ("id_missing", "bad_check_char", "lowercase_x", "whitespace", "fullwidth"),
               "name": ("name_conflict", "whitespace"), "birth_date": ("birth_date_conflict", "date_format"),
               "note": ("missing_value",)},
        rows=("duplicate_row", "late_record", "malformed_row"),
        protect={"resident_id": ("name",)},
        event="birth_date",
    )
    messy = inject(clean, profile, MessRates().scaled(5), np.random.default_rng(2), broken_lines=True)
    frame, defects = messy.frame, messy.defects
    cells = defects.filter(pl.col("field").is_not_null() & (pl.col("kind") != "late_record"))
    assert cells.select("_rid", "field").is_duplicated().sum() == 0  # one defect per cell
    recorded = {(r, f): (t, w) for r, f, t, w in cells.select("_rid", "field", "true_value", "written_value").rows()}
    rows = frame.filter(~pl.col("_malformed"))
    for column in profile.cells:
        before = clean[column].gather(rows["_source"]).to_list()
        after = rows[column].to_list()
        for rid, old, new in zip(rows["_rid"].to_list(), before, after, strict=True):
            if old != new:
                assert recorded.pop((rid, column)) == (old, new)
    assert recorded == {}  # nothing recorded that was not written
    broken_ids = set(defects.filter(pl.col("kind").is_in(["id_missing", "bad_check_char"]))["_rid"])
    conflicts = set(defects.filter(pl.col("kind") == "name_conflict")["_rid"])
    assert not broken_ids & conflicts  # a record whose ID is lost keeps its name
    kinds = dict(defects.group_by("kind").len().iter_rows())
    assert kinds["duplicate_row"] > 0 and kinds["malformed_row"] > 0 and kinds["late_record"] > 0


def test_missing_and_duplicates_leave_keys_alone():
    clean = _clean_frame(500)
    profile = Profile(cells={"note": ("missing_value",)})
    messy = inject(clean, profile, MessRates().scaled(20), np.random.default_rng(3), broken_lines=False)
    assert messy.frame["key"].null_count() == 0
    assert messy.frame["note"].null_count() > 5
    assert not messy.frame["_malformed"].any()
