"""Text, person-name, identifier and geometry rules, and the text primitives they share."""

from __future__ import annotations

import unicodedata

import polars as pl
import pytest

from tests.transforms.rules.conftest import Apply
from transforms.rules.base import FULL_WIDTH, fold_width, fold_width_text


def test_fold_width_matches_nfkc_on_the_full_width_block() -> None:
    assert len(FULL_WIDTH) == 95
    text = "".join(FULL_WIDTH)
    folded = pl.DataFrame({"t": [text]}).select(fold_width(pl.col("t"))).item()
    assert folded == fold_width_text(text) == unicodedata.normalize("NFKC", text)
    assert folded.isascii()


def test_fold_width_leaves_other_text_alone() -> None:
    text = "中文。、《》·・﹒①ｶ￥"  # CJK punctuation and others outside U+FF01–U+FF5E
    assert pl.DataFrame({"t": [text]}).select(fold_width(pl.col("t"))).item() == text


@pytest.mark.parametrize(
    ("raw", "value", "valid"),
    [
        ("张三", "张三", True),
        (" 张 三\u3000", "张三", True),
        ("张\t三", "张三", True),
        ("阿沛·阿旺晋美", "阿沛·阿旺晋美", True),
        ("阿沛・阿旺晋美", "阿沛·阿旺晋美", True),  # katakana middle dot
        ("阿沛•阿旺晋美", "阿沛·阿旺晋美", True),  # bullet
        ("阿沛．阿旺晋美", "阿沛·阿旺晋美", True),  # full-width full stop
        ("阿沛.阿旺晋美", "阿沛·阿旺晋美", True),
        ("阿沛 · 阿旺晋美", "阿沛·阿旺晋美", True),
        ("王〇", "王〇", True),
        ("Ｊｏｈｎ Ｓｍｉｔｈ", "JohnSmith", True),
        ("𠮷野", "𠮷野", True),  # CJK extension B
        ("张3", "张3", False),
        ("·张三", "·张三", False),
        ("张··三", "张··三", False),
        ("张三（曾用名李四）", "张三(曾用名李四)", False),
        ("无名氏" * 17, "无名氏" * 17, False),  # 51 characters
    ],
)
def test_person_name(apply: Apply, raw: str, value: str, valid: bool) -> None:
    assert apply("person_name", [raw]) == [(value, valid)]


def test_text_folds_trims_and_collapses(apply: Apply) -> None:
    raw = "\u3000杭州某某（集团）  有限\t\n公司 "
    assert apply("org_name", [raw]) == [("杭州某某(集团) 有限 公司", True)]


def test_text_length_comes_from_the_element(apply: Apply) -> None:
    assert apply("case_no", ["案" * 64, "案" * 65]) == [("案" * 64, True), ("案" * 65, False)]


@pytest.mark.parametrize(
    ("raw", "value", "valid"),
    [
        ("ab 123-x", "AB123-X", True),
        ("Ｈ３３０１０６ ２０２０ ０００１", "H33010620200001", True),
        ("浙（2020）杭州市不动产权第0001234号", "浙(2020)杭州市不动产权第0001234号", True),
        ("/", "/", False),
        ("--", "--", False),
    ],
)
def test_identifier(apply: Apply, raw: str, value: str, valid: bool) -> None:
    assert apply("certificate_no", [raw]) == [(value, valid)]


def test_identifier_length(apply: Apply) -> None:
    assert apply("parcel_code", ["3" * 19, "3" * 20]) == [("3" * 19, True), ("3" * 20, False)]


@pytest.mark.parametrize(
    ("raw", "valid"),
    [
        ('{"type": "Polygon", "coordinates": [[[120.1, 30.2], [120.2, 30.2], [120.1, 30.2]]]}', True),
        ('  {"type":"MultiPolygon","coordinates":[]}\n', True),
        ('{"coordinates": [120.1, 30.2], "type": "Point"}', True),
        ('{"type": "LineString", "coordinates": [[1, 2], [3, 4]]}', False),
        ('{"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]}}', False),
        ('{"type": "Polygon"}', False),
        ("POLYGON ((120.1 30.2, 120.2 30.2, 120.1 30.2))", False),
    ],
)
def test_geometry(apply: Apply, raw: str, valid: bool) -> None:
    assert apply("geometry", [raw]) == [(raw.strip(), valid)]
