"""Shared fixtures for governed-SQL tests: a DuckDB built like an analyst's connection.

It defines the views ``population`` and ``legal_entity`` (masked, scoped to 3301) over base
tables, plus ``tax_record``, which exists but is never granted in the tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

_SETUP = """
CREATE TABLE base_population AS SELECT * FROM (VALUES
    ('330102199001011234', '张三', '330102', DATE '1990-01-01', 'M', 35),
    ('330106198505052345', '李四', '330106', DATE '1985-05-05', 'F', 40),
    ('330106200012123456', '王五', '330106', DATE '2000-12-12', 'M', 24),
    ('110101197003034567', '赵六', '110101', DATE '1970-03-03', 'F', 55)
) AS t(resident_id, name, division, birth_date, gender, age);
CREATE TABLE base_legal_entity AS SELECT * FROM (VALUES
    ('91330102MA2XXXXX01', '杭州甲公司', '330102', 1000000.0, DATE '2019-06-01'),
    ('91330106MA2XXXXX02', '杭州乙公司', '330106', 500000.0, DATE '2021-02-14'),
    ('91110101MA2XXXXX03', '北京丙公司', '110101', 200000.0, DATE '2022-09-09')
) AS t(uscc, name, division, registered_capital, established);
CREATE TABLE tax_record AS SELECT 1 AS id, 'secret' AS note;
CREATE VIEW population AS
    SELECT left(resident_id, 6) || '********' || right(resident_id, 4) AS resident_id,
           name, division, birth_date, gender, age
    FROM base_population WHERE division LIKE '3301%';
CREATE VIEW legal_entity AS
    SELECT uscc, name, division, registered_capital, established
    FROM base_legal_entity WHERE division LIKE '3301%';
"""


@pytest.fixture
def governed_connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with masked, row-scoped views over small base tables."""
    connection = duckdb.connect(":memory:")
    connection.execute(_SETUP)
    yield connection
    connection.close()
