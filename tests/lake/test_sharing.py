"""Sharing requests, approvals and time-limited grants (lake/sharing.py, views/shares.py), end to end.

Real Delta tables, real governed sessions, real extracts and the real CLI, on a copy of the
5,000-person demo home. Each test uses its own (user, target) pair, so a grant of one test
never supersedes another's.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from govlake.cli import main
from govlake.errors import NotFound, PolicyDenied, StateError
from govlake.home import Home
from lake import audit, delta, sharing
from lake.catalog.load import CATALOG_DIR, STANDARDS_DIR, load_catalog_from
from policies import load_policies
from tests.conftest import copy_home
from views import shares
from views.publish import check_grant, publish, read_extract
from views.session import open_session

GOVLAKE = Path(sys.executable).with_name("govlake")
PURPOSE = "婚姻状况核验（测试）"
BASIS = "《婚姻登记条例》第二条及履行法定职责所必需（测试）"


@pytest.fixture(scope="module")
def home(built_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Home:
    root = tmp_path_factory.mktemp("sharing") / "home"
    copy_home(built_home.root, root, "cache", "duckdb_extensions", "exports", "spool", "sharing")
    return Home(root)


def _raw(home: Home, dataset: str) -> pl.DataFrame:
    return delta.read(home.table_path("raw", dataset))


def _refusals(home: Home, action: str) -> list[dict[str, object]]:
    return [e for e in audit.entries(home) if e["statement_kind"] == action and e["decision"] == "refused"]


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


# --------------------------------------------------------------------------- routes


def test_view_routes_follow_the_strictest_source_and_the_authoritative_owner() -> None:
    policies = load_policies()
    population = shares.resolve_target("population", policies)
    decided = shares.route(population, ["resident_id", "hukou_division"], (), policies)
    assert (decided.share_type, decided.route, decided.owner) == ("conditional", "conditional", "public_security")
    assert shares.route(population, ["insured"], (), policies).owner == "hrss"  # social insurance is authoritative

    entity = shares.resolve_target("legal_entity", policies)
    plain = shares.route(entity, ["uscc", "division"], (), policies)
    assert (plain.route, plain.owner) == ("unconditional", "market_regulation")
    # showing more than the default treatment always needs the owner's approval
    unmasked = shares.route(entity, ["uscc", "legal_rep_id"], ["legal_rep_id"], policies)
    assert (unmasked.share_type, unmasked.route) == ("unconditional", "conditional")
    assert "legal_rep_id（不脱敏）" in unmasked.reason

    marriages = shares.resolve_target("101003/00001", policies)  # by resource code
    assert (marriages.kind, marriages.name, marriages.scope) == ("dataset", "marriages", "registry_division")
    assert shares.route(marriages, ["registration_no"], (), policies).owner == "civil_affairs"
    births = shares.resolve_target("births", policies)
    assert shares.default_hidden(births, "name") and not shares.default_hidden(births, "certificate_no")


def test_not_shareable_data_is_refused_at_once_with_the_catalogs_reason(
        home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A catalog whose marriages entry says 不予共享: a request for it, or for a view column from it, is refused."""
    catalog_dir = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, catalog_dir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    entry = catalog_dir / "datasets" / "marriages.toml"
    text = entry.read_text(encoding="utf-8")
    old = 'share = { type = "conditional", conditions = "用于婚姻状况核验等法定事项，经民政部门审核", method = "接口" }'
    assert text.count(old) == 1
    entry.write_text(text.replace(old, 'share = { type = "none", conditions = "涉及婚姻隐私，依法不予共享" }'),
                     encoding="utf-8")
    edited = load_catalog_from(catalog_dir, STANDARDS_DIR)
    monkeypatch.setattr("lake.catalog.load_catalog", lambda: edited)
    shares._target.cache_clear()
    try:
        made = sharing.request(home, user="hz_pubsec", target="marriages", columns=["registration_no"],
                               purpose=PURPOSE, legal_basis=BASIS, period_days=30)
        assert (made.route, made.state, made.grant_id) == ("none", "refused", None)
        assert "涉及婚姻隐私，依法不予共享" in made.decision_reason
        policies = load_policies()
        via_view = shares.route(shares.resolve_target("population", policies), ["marital_status"], (), policies)
        assert via_view.route == "none" and "涉及婚姻隐私" in via_view.reason
        refusal = [e for e in audit.entries(home) if e["statement_kind"] == "share.refuse"]
        assert refusal and refusal[-1]["decision"] == "allowed"  # recorded as the request's outcome
        assert json.loads(refusal[-1]["sql"])["request_id"] == made.id
    finally:
        shares._target.cache_clear()


# --------------------------------------------------------------------------- grants in the session


def test_unconditional_request_is_granted_at_once_with_exactly_the_columns_and_scope(home: Home) -> None:
    session = open_session("hz_analyst", home=home)
    before = session._connection
    try:
        made = sharing.request(home, user="hz_analyst", target="legal_entity", columns=["division", "uscc", "category"],
                               purpose="市场主体统计分析（测试）", legal_basis="《优化营商环境条例》第十条（测试）",
                               period_days=30)
        assert (made.route, made.state, made.scope, made.decided_by) == ("unconditional", "granted", "3301", "govlake")
        assert made.columns == ("uscc", "category", "division")  # the view's order
        shared = session.sql("SELECT * FROM shared_legal_entity")  # the session was open before the grant
        assert shared.columns == ["uscc", "category", "division"]
        assert shared.height > 0 and shared["division"].str.starts_with("3301").all()
        by_role = session.sql("SELECT uscc, category, division FROM legal_entity")
        assert shared.sort("uscc").equals(by_role.sort("uscc"))
        with pytest.raises(PolicyDenied, match="column"):
            session.sql("SELECT entity_name FROM shared_legal_entity")
        granted = session._connection
        # The grantee gives the grant up: the session is back on its database from before the grant.
        assert made.grant_id is not None
        sharing.revoke(home, user="hz_analyst", grant_id=made.grant_id, reason="统计已完成")
        assert session.sql("SELECT count(*) AS n FROM legal_entity")["n"][0] == by_role.height
        assert session._connection is before and session._connection is not granted
        assert "shared_legal_entity" not in session.views()
    finally:
        session.close()


def test_conditional_request_waits_for_the_owner_then_shows_the_narrowed_grant(home: Home) -> None:
    session = open_session("hz_pubsec", home=home)
    try:
        made = sharing.request(home, user="hz_pubsec", target="marriages",
                               columns=["registration_no", "husband_id", "husband_name", "registry_division"],
                               purpose=PURPOSE, legal_basis=BASIS, period_days=30, scope="zhejiang")
        assert (made.route, made.state, made.owner_department, made.scope) == (
            "conditional", "pending", "civil_affairs", "33")
        assert made.id in sharing.inbox(home, department="civil_affairs")["id"].to_list()
        assert made.id not in sharing.inbox(home, department="public_security")["id"].to_list()
        with pytest.raises(PolicyDenied, match="not granted"):
            session.sql("SELECT * FROM shared_marriages")

        grant = sharing.approve(home, user="mca_officer", request_id=made.id,
                                columns=["registration_no", "husband_id", "registry_division"], scope="3301",
                                period_days=14)
        assert (grant.scope, grant.period_days, grant.approved_by) == ("3301", 14, "mca_officer")
        assert grant.expires_at - grant.granted_at == dt.timedelta(days=14)
        assert sharing.get_request(home, made.id).state == "granted"
        assert made.id not in sharing.inbox(home, department="civil_affairs")["id"].to_list()

        shown = session.sql("SELECT * FROM shared_marriages ORDER BY registration_no")
        assert shown.columns == ["registration_no", "husband_id", "registry_division"]
        raw = _raw(home, "marriages").filter(pl.col("registry_division").str.starts_with("3301"))
        assert shown["registration_no"].to_list() == sorted(raw["registration_no"].to_list())
        masked = shown.filter(pl.col("husband_id").str.len_chars() == 18)["husband_id"]
        assert masked.len() > 0 and masked.str.contains(r"^\d{6}\*{8}[0-9Xx]{4}$").all()  # masks still apply
        assert session.columns("shared_marriages")["husband_id"] == "resident_id"
    finally:
        session.close()


def test_unmask_shows_stored_values_and_reveal_lifts_hiding(home: Home) -> None:
    made = sharing.request(home, user="hz_analyst", target="population", columns=["resident_id", "birth_date", "phone"],
                           unmask=["phone"], purpose="独居老人关爱回访（测试）",
                           legal_basis="《老年人权益保障法》第二十六条（测试）", period_days=60)
    assert (made.route, made.owner_department) == ("conditional", "public_security")
    sharing.approve(home, user="mps_officer", request_id=made.id)
    session = open_session("hz_analyst", home=home)
    try:
        assert session.columns("shared_population") == {"resident_id": "resident_id", "birth_date": "clear",
                                                        "phone": "clear"}
        assert session.columns("population")["birth_date"] == "hidden"  # the role's view is unchanged
        shown = session.sql("SELECT resident_id, birth_date, phone FROM shared_population WHERE phone IS NOT NULL "
                            "ORDER BY phone LIMIT 20")
        stored = delta.read(home.table_path("base", "population"), columns=["phone", "birth_date"])
        assert shown.height > 0 and set(shown["phone"]) <= set(stored["phone"].drop_nulls())
        assert shown["birth_date"].null_count() == 0
        assert shown["resident_id"].str.contains(r"\*{8}").all()
    finally:
        session.close()


def test_revocation_from_another_process_takes_effect_on_the_next_query(home: Home) -> None:
    made = sharing.request(home, user="zj_leader", target="marriages", columns=["registration_no", "registry_division"],
                           purpose=PURPOSE, legal_basis=BASIS, period_days=30)
    grant = sharing.approve(home, user="mca_officer", request_id=made.id)
    session = open_session("zj_leader", home=home)
    try:
        assert session.sql("SELECT count(*) AS n FROM shared_marriages")["n"][0] > 0
        done = subprocess.run([str(GOVLAKE), "--home", str(home.root), "share", "revoke", "--user", "mca_officer",
                               grant.id, "--reason", "核验已完成"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        with pytest.raises(PolicyDenied, match=rf"your grant {grant.id} on marriages was revoked .* by mca_officer"):
            session.sql("SELECT count(*) AS n FROM shared_marriages")
        refused = [e for e in audit.entries(home) if e["user"] == "zj_leader" and e["decision"] == "refused"]
        assert grant.id in str(refused[-1]["reason"])
        assert sharing.get_grant(home, grant.id).state == "revoked"
        assert "shared_marriages" not in session.views()
    finally:
        session.close()


def test_expiry_takes_effect_on_the_next_query(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    made = sharing.request(home, user="national_leader", target="dishonest_debtors",
                           columns=["case_no", "court_division"], purpose="信用监管统计（测试）",
                           legal_basis="《社会信用体系建设规划纲要》（测试）", period_days=1)
    assert made.state == "granted" and made.grant_id is not None
    session = open_session("national_leader", home=home)
    try:
        before = session.sql("SELECT count(*) AS n FROM shared_dishonest_debtors")["n"][0]
        assert before == _raw(home, "dishonest_debtors").height
        real_now = sharing.now
        monkeypatch.setattr(sharing, "now", lambda: real_now() + dt.timedelta(days=1, seconds=1))
        with pytest.raises(PolicyDenied, match=rf"your grant {made.grant_id} on dishonest_debtors expired at"):
            session.sql("SELECT count(*) AS n FROM shared_dishonest_debtors")
        refused = [e for e in audit.entries(home) if e["user"] == "national_leader" and e["decision"] == "refused"]
        assert f"grant {made.grant_id} on dishonest_debtors expired" in str(refused[-1]["reason"])
        assert sharing.get_grant(home, made.grant_id).state == "expired"
        assert made.grant_id not in sharing.grants(home)["id"].to_list()
        with pytest.raises(StateError, match="already expired"):
            sharing.revoke(home, user="national_leader", grant_id=made.grant_id, reason="不再需要")
    finally:
        session.close()


def test_a_newer_grant_supersedes_the_older_one(home: Home) -> None:
    basis = "《社会团体登记管理条例》（测试）"
    first = sharing.request(home, user="nda_officer", target="social_orgs", columns=["uscc", "org_name"],
                            purpose="社会组织统计（测试）", legal_basis=basis, period_days=30)
    second = sharing.request(home, user="nda_officer", target="social_orgs", columns=["uscc"],
                             purpose="社会组织统计（测试）", legal_basis=basis, period_days=90)
    assert first.grant_id and second.grant_id
    old = sharing.get_grant(home, first.grant_id)
    assert (old.state, old.end_reason) == ("superseded", f"被新授权 {second.grant_id} 替代")
    active = sharing.grants(home, user="nda_officer")
    assert active["id"].to_list() == [second.grant_id]


# --------------------------------------------------------------------------- refusals


def test_decisions_out_of_turn_are_refused_and_audited(home: Home) -> None:
    made = sharing.request(home, user="hz_pubsec", target="births", columns=["certificate_no", "birth_division"],
                           purpose="出生登记核验（测试）", legal_basis="《户口登记条例》第七条（测试）", period_days=30)
    assert made.owner_department == "health"
    before = len(_refusals(home, "share.approve"))
    attempts = [
        ("mps_officer", {}, "is for data of 国家卫生健康委员会 \\(health\\); you act for 公安部"),
        ("nhc_officer", {"columns": ["certificate_no", "name"]}, "column 'name' was not requested"),
        ("nhc_officer", {"scope": "33"}, "row scope '33' is wider than the requested '3301'"),
        ("nhc_officer", {"period_days": 31}, "period 31 days is longer than the requested 30"),
        ("nhc_officer", {"unmask": ["certificate_no"]}, "unmasking 'certificate_no' was not requested"),
    ]
    for user, narrowing, message in attempts:
        with pytest.raises(PolicyDenied, match=message):
            sharing.approve(home, user=user, request_id=made.id, **narrowing)  # type: ignore[arg-type]
    refused = _refusals(home, "share.approve")
    assert len(refused) == before + len(attempts)
    assert [e["user"] for e in refused[-len(attempts):]] == [a[0] for a in attempts]
    assert sharing.get_request(home, made.id).state == "pending"  # nothing was granted

    own = sharing.request(home, user="nhc_officer", target="deaths", columns=["certificate_no"],
                          purpose="死亡登记统计（测试）", legal_basis="《统计法》第七条（测试）", period_days=10)
    with pytest.raises(PolicyDenied, match=f"request {own.id} is your own"):
        sharing.approve(home, user="nhc_officer", request_id=own.id)
    with pytest.raises(PolicyDenied, match="your own"):
        sharing.reject(home, user="nhc_officer", request_id=own.id, reason="自行撤回")

    hukou = sharing.request(home, user="hz_analyst", target="hukou", columns=["resident_id", "hukou_division"],
                            purpose="人口统计（测试）", legal_basis="《统计法》第七条（测试）", period_days=10)
    with pytest.raises(PolicyDenied, match="needs a role with approves_sharing"):  # public security, not an officer
        sharing.approve(home, user="hz_pubsec", request_id=hukou.id)
    rejected = sharing.reject(home, user="mps_officer", request_id=hukou.id,
                              reason="用途不需要身份号码明细，请改用汇总视图")
    assert (rejected.state, rejected.decided_by) == ("rejected", "mps_officer")
    assert rejected.decision_reason.startswith("用途不需要")
    with pytest.raises(StateError, match="already rejected"):
        sharing.approve(home, user="mps_officer", request_id=hukou.id)
    with pytest.raises(NotFound, match="no sharing request 'REQ-999999'"):
        sharing.approve(home, user="mps_officer", request_id="REQ-999999")

    grant = sharing.approve(home, user="nhc_officer", request_id=made.id, columns=["certificate_no"])
    with pytest.raises(PolicyDenied, match="only its data officers or the grantee"):
        sharing.revoke(home, user="mps_officer", grant_id=grant.id, reason="越权撤销")
    assert _refusals(home, "share.revoke")[-1]["user"] == "mps_officer"
    assert sharing.revoke(home, user="hz_pubsec", grant_id=grant.id, reason="不再需要").state == "revoked"


@pytest.mark.parametrize(("changes", "message"), [
    ({"target": "marriage"}, "no view or dataset 'marriage' \\(did you mean 'marriages'\\?\\)"),
    ({"target": "social_insurance"}, "connected logically"),
    ({"columns": ["registration_no", "husband_idd"]}, "no column 'husband_idd' \\(did you mean 'husband_id'\\?\\)"),
    ({"columns": []}, "name at least one column"),
    ({"unmask": ["registration_type"]}, "unmask names 'registration_type', which is not among the requested"),
    ({"unmask": ["registration_no"]}, "holds no personal information"),
    ({"period_days": 0}, "period must be a whole number of days from 1 to 366"),
    ({"period_days": 400}, "from 1 to 366"),
    ({"scope": "3399"}, "row scope '3399' is not a division prefix"),
    ({"target": "tax_credit", "columns": ["uscc"], "scope": "3301"}, "the target has no division column"),
    ({"purpose": "查"}, "state the purpose"),
    ({"legal_basis": "依法"}, "state the legal basis"),
])
def test_bad_requests_are_refused_before_anything_is_written(home: Home, changes: dict[str, object],
                                                             message: str) -> None:
    values: dict[str, object] = {"user": "hz_pubsec", "target": "marriages", "columns": ["registration_no"],
                                 "purpose": PURPOSE, "legal_basis": BASIS, "period_days": 30}
    values.update(changes)
    version = delta.version(sharing.table_path(home))
    with pytest.raises((sharing.RequestInvalid, NotFound), match=message):
        sharing.request(home, **values)  # type: ignore[arg-type]
    assert delta.version(sharing.table_path(home)) == version


def test_the_public_cannot_request(home: Home) -> None:
    with pytest.raises(PolicyDenied, match="you belong to no department"):
        sharing.request(home, user="open_public", target="market_entities", columns=["uscc"], purpose=PURPOSE,
                        legal_basis=BASIS, period_days=5)
    assert _refusals(home, "share.request")[-1]["user"] == "open_public"


# --------------------------------------------------------------------------- extracts


def test_an_extract_records_its_grant_and_stops_verifying_once_revoked_or_expired(home: Home,
                                                                                  tmp_path: Path) -> None:
    made = sharing.request(home, user="hz_pubsec", target="hukou", columns=["resident_id", "name", "hukou_division"],
                           purpose="户籍核查（测试）", legal_basis="《户口登记条例》（测试）", period_days=20)
    grant = sharing.approve(home, user="mps_officer", request_id=made.id)
    extract = publish("hz_pubsec", home=home, out=tmp_path / "grant.duckdb", grant=grant.id)
    assert (extract.grant_id, extract.expires_at) == (grant.id, grant.expires_at)
    assert list(extract.tables) == ["shared_hukou"]
    read = read_extract(extract.path)
    assert (read.grant_id, read.expires_at, read.problems) == (grant.id, grant.expires_at, ())
    con = duckdb.connect(str(extract.path), read_only=True)
    try:
        rows = con.execute("SELECT count(*), count(*) FILTER (WHERE hukou_division NOT LIKE '3301%') "
                           "FROM shared_hukou").fetchone()
        columns = [r[0] for r in con.execute("DESCRIBE shared_hukou").fetchall()]
    finally:
        con.close()
    assert rows is not None and rows[0] == extract.tables["shared_hukou"] > 0 and rows[1] == 0
    assert columns == ["resident_id", "name", "hukou_division"]

    assert check_grant(read, home)[0]
    assert not check_grant(read, home, at=grant.expires_at)[0]  # the recorded expiry
    assert "cannot confirm" in check_grant(read, None)[1]  # revocation cannot be checked without the home

    code, out, _ = _cli("--home", str(home.root), "publish", "--verify", str(extract.path))
    assert code == 0 and f"ok: grant {grant.id} is active until" in out
    sharing.revoke(home, user="mps_officer", grant_id=grant.id, reason="核查结束")
    code, out, _ = _cli("--home", str(home.root), "publish", "--verify", str(extract.path))
    assert code == 1 and f"not valid: grant {grant.id} on hukou was revoked" in out
    assert [e for e in audit.entries(home) if e["statement_kind"] == "extract.verify"][-1]["decision"] == "refused"

    with pytest.raises(PolicyDenied, match="was revoked"):
        publish("hz_pubsec", home=home, out=tmp_path / "again.duckdb", grant=grant.id)
    with pytest.raises(PolicyDenied, match="is not yours"):
        publish("hz_analyst", home=home, out=tmp_path / "other.duckdb", grant=grant.id)
    assert not (tmp_path / "again.duckdb").exists() and not (tmp_path / "other.duckdb").exists()
    published = [e for e in audit.entries(home) if e["statement_kind"] == "PUBLISH"]
    assert [e["decision"] for e in published[-3:]] == ["allowed", "refused", "refused"]


# --------------------------------------------------------------------------- crash safety and the CLI


def test_grant_files_are_rebuilt_from_the_table_after_a_crash(home: Home) -> None:
    """A crash after the commit but before the users' files were written: the next session rebuilds them."""
    made = sharing.request(home, user="hz_pubsec", target="admin_penalties", columns=["decision_no", "division"],
                           purpose="行政处罚核查（测试）", legal_basis="《行政处罚法》第四十八条（测试）",
                           period_days=5)
    assert made.state == "granted"
    sharing.user_file(home, "hz_pubsec").unlink()
    (home.root / "sharing" / "state.json").unlink()
    session = open_session("hz_pubsec", home=home)
    try:
        assert "shared_admin_penalties" in session.views()
    finally:
        session.close()


def test_a_failed_revocation_commit_leaves_the_grant_as_it_was(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    made = sharing.request(home, user="hz_analyst", target="admin_licences", columns=["decision_no", "division"],
                           purpose="行政许可统计（测试）", legal_basis="《行政许可法》第四十条（测试）", period_days=5)
    assert made.grant_id is not None

    def failing(*args: object, **kwargs: object) -> int:
        raise OSError("disk full (injected)")

    monkeypatch.setattr(sharing.delta, "write", failing)  # a fault that cannot be produced for real here
    with pytest.raises(OSError, match="injected"):
        sharing.revoke(home, user="hz_analyst", grant_id=made.grant_id, reason="不再需要")
    monkeypatch.undo()
    assert sharing.get_grant(home, made.grant_id).state == "active"
    watch = sharing.GrantWatch(home, "hz_analyst")
    assert made.grant_id in [g.id for g in watch.active]


def test_cli_request_list_approve_and_stats(home: Home) -> None:
    root = str(home.root)
    code, out, _ = _cli("--home", root, "share", "request", "--user", "hz_pubsec", "--target", "land_parcels",
                        "--columns", "parcel_code,division", "--purpose", "用地核查（测试）",
                        "--basis", "《土地管理法》第五条（测试）", "--days", "7")
    assert code == 0 and "route:    conditional" in out and "自然资源部 (natural_resources) decides" in out
    request_id = out.split()[1].rstrip(":")
    code, out, _ = _cli("--home", root, "share", "list", "--inbox", "--user", "mps_officer", "--json")
    assert code == 0 and request_id not in out
    code, out, err = _cli("--home", root, "share", "approve", "--user", "mps_officer", request_id)
    assert code == 2 and "you act for 公安部" in err
    code, out, _ = _cli("--home", root, "share", "list", "--state", "pending", "--json")
    assert request_id in [json.loads(line)["id"] for line in out.splitlines()]
    code, out, _ = _cli("--home", root, "share", "targets", "--json")
    assert {json.loads(line)["target"] for line in out.splitlines()} >= {"population", "marriages", "hukou"}

    session = open_session("hz_pubsec", home=home)
    try:
        session.sql("SELECT count(*) FROM shared_marriages")  # granted earlier in this module
    finally:
        session.close()
    code, out, _ = _cli("--home", root, "share", "stats", "--json")
    figures = json.loads(out)
    assert code == 0 and figures["requests"] == figures["requests_by_route"]["conditional"] + figures[
        "requests_by_route"]["unconditional"] + figures["requests_by_route"]["none"]
    assert figures["requests_by_route"]["none"] >= 1 and figures["grants_revoked"] >= 1
    assert figures["turnaround"]["decided"] >= 1
    used = {u["view"]: u for u in figures["usage_by_grant"] if u["user"] == "hz_pubsec"}
    assert used["shared_marriages"]["queries"] >= 2
    assert used["shared_hukou"]["publishes"] == 1 and used["shared_hukou"]["refused"] >= 1
    this_month = sharing.stats(home, period=sharing.now().strftime("%Y-%m"))
    assert this_month["requests"] == figures["requests"]
    assert sharing.stats(home, period="2001")["requests"] == 0


def test_every_change_is_in_the_audit_chain(home: Home) -> None:
    """Run last in this module: the whole trail, sharing events included, still verifies."""
    events = delta.read(sharing.table_path(home)).sort("seq")
    assert events["seq"].to_list() == list(range(1, events.height + 1))
    entries = {e["seq"]: e for e in audit.entries(home)}
    for row in events.iter_rows(named=True):
        entry = entries[row["audit_seq"]]
        assert entry["statement_kind"] == f"share.{row['kind']}"
        assert json.loads(entry["sql"])["event_id"] == row["event_id"]
    assert audit.verify(home).entries >= events.height
