"""``govlake generate`` on the command line."""

from __future__ import annotations

import polars as pl

from govlake.cli import main


def test_generate_command_writes_clean_data_and_says_where(tmp_path, capsys):
    out = tmp_path / "exports"
    assert main(["generate", "--out", str(out), "--persons", "500", "--seed", "3", "--mess-scale", "0"]) == 0
    printed = capsys.readouterr().out
    assert "500 persons" in printed and "hukou" in printed and str(out / "truth") in printed
    assert pl.read_parquet(out / "truth" / "defects.parquet").height == 0
    assert (out / "公安_户籍人口_20261120.csv").is_file()


def test_generate_command_refuses_bad_arguments(tmp_path, capsys):
    assert main(["generate", "--out", str(tmp_path), "--persons", "10"]) == 1
    assert "persons must be at least" in capsys.readouterr().err
    assert main(["generate", "--out", str(tmp_path), "--mess-scale", "-1"]) == 1
    assert "--mess-scale" in capsys.readouterr().err
