"""The legal-entity base library (法人基础库): one row per unified social credit code."""

from __future__ import annotations

import polars as pl

from transforms.context import BuildContext
from transforms.library import build_library

#: The first two characters of a USCC: registering authority and organisation type (GB 32100).
USCC_CATEGORIES: dict[str, str] = {
    "11": "机关", "12": "事业单位", "13": "中央编办直管群众团体", "19": "其他机构编制",
    "51": "社会团体", "52": "民办非企业单位", "53": "基金会", "59": "其他民政登记",
    "91": "企业", "92": "个体工商户", "93": "农民专业合作社",
    "N1": "组级集体经济组织", "N2": "村级集体经济组织", "N3": "乡镇级集体经济组织", "N9": "其他农业",
}
STATUS_NAMES = {"1": "存续", "2": "吊销", "3": "注销"}


def legal_entity(ctx: BuildContext) -> dict[str, pl.DataFrame]:
    golden, conflicts = build_library(ctx, "legal_entity")
    people = ctx.outputs.get("base.population")
    golden = golden.with_columns(
        pl.col("uscc").str.slice(0, 2).replace_strict(USCC_CATEGORIES, default="其他").alias("category"),
        pl.col("status").replace_strict(STATUS_NAMES, default=None).alias("status_name"),
        pl.col("industry_code").str.slice(0, 1).alias("industry_section"),
        pl.col("division").str.slice(0, 2).alias("province"),
    )
    if people is not None:
        golden = golden.with_columns(pl.col("legal_rep_id").is_in(people["resident_id"].implode())
                                     .alias("legal_rep_in_population"))
    columns = ["uscc", "entity_name", "category", "entity_type", "status", "status_name", "closed_date",
               "legal_rep_id", "legal_rep_name", "legal_rep_in_population", "registered_capital",
               "industry_code", "industry_section", "established_date", "division", "province", "address",
               "longitude", "latitude", "provenance"]
    return {"base.legal_entity": golden.select([c for c in columns if c in golden.columns]),
            "base.conflicts.legal_entity": conflicts}
