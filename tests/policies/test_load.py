"""Policy files: the shipped ones load; every mistake is refused naming the file, the key and the fix."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from govlake.errors import ConfigError, NotFound
from policies import hash_password, load_policies, load_policies_from, verify_password
from policies.load import POLICIES_DIR

DEMO_PASSWORD = "govlake-demo"


def test_demo_users_are_shipped() -> None:
    policies = load_policies()
    assert set(policies.users) == {"national_leader", "zj_leader", "hz_analyst", "hz_pubsec", "open_public",
                                   "mps_officer", "mca_officer", "nhc_officer", "nda_officer"}
    assert policies.user("hz_pubsec").department == "public_security"
    assert policies.user("open_public").department is None
    assert policies.approves_sharing(policies.user("mca_officer"))
    assert not policies.approves_sharing(policies.user("hz_pubsec"))
    assert policies.user("hz_analyst").scope.division_prefix == "3301"
    assert policies.user("zj_leader").scope.division_prefix == "33"
    assert policies.user("national_leader").scope.division_prefix == ""
    assert policies.limits_of(policies.user("open_public")) == (10_000, 10.0)
    assert policies.views_of(policies.user("hz_pubsec"))["population"].unmask == {"resident_id"}
    assert policies.views_of(policies.user("hz_pubsec"))["population"].reveal == {"name", "sex", "age"}
    with pytest.raises(NotFound, match="did you mean 'hz_analyst'"):
        policies.user("hz_analist")


def test_demo_passwords_are_hashed_never_plain() -> None:
    policies = load_policies()
    for user in policies.users.values():
        assert verify_password(DEMO_PASSWORD, user.password_hash)
        assert not verify_password("wrong", user.password_hash)
    hashes = [u.password_hash for u in policies.users.values()]
    assert len(set(hashes)) == len(hashes)  # a salt each
    for path in POLICIES_DIR.glob("*.toml"):
        assert DEMO_PASSWORD not in path.read_text(encoding="utf-8")


def test_hash_format() -> None:
    stored = hash_password("s3cret", salt=b"0123456789abcdef")
    assert re.fullmatch(r"scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+", stored)
    assert verify_password("s3cret", stored) and not verify_password("s3cret", "plain")
    assert not verify_password("s3cret", "scrypt$2$1$1$AAAA$AAAA")  # too weak to be accepted


def edited(tmp_path: Path, file: str, edit: Callable[[str], str]) -> Path:
    folder = tmp_path / "policies"
    shutil.copytree(POLICIES_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = folder / file
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return folder


BAD = [
    ("users.toml", lambda t: t.replace('roles = ["analyst"]', 'roles = ["analyts"]'),
     "[hz_analyst]: role 'analyts' is not defined in roles.toml (did you mean 'analyst'?)"),
    ("users.toml", lambda t: t.replace('scope = "hangzhou"', 'scope = "hangzou"', 1),
     "scope 'hangzou' is not defined in scopes.toml (did you mean 'hangzhou'?)"),
    ("users.toml", lambda t: re.sub(r'password_hash = "[^"]+"', 'password_hash = "govlake-demo"', t, count=1),
     "never store a plain password"),
    ("users.toml", lambda t: t.replace('roles = ["analyst", "public_security"]', 'roles = ["analyst", "open_data"]'),
     "an open-data-only role cannot be combined with other roles"),
    ("users.toml", lambda t: t.replace('roles = ["analyst"]', 'roles = ["analyst"]\nemail = "x"', 1),
     "unknown key 'email'"),
    ("users.toml", lambda t: t.replace('department = "public_security"', 'department = "public_securty"', 1),
     "department 'public_securty' is not in lake/catalog/departments.toml (did you mean 'public_security'?)"),
    ("users.toml", lambda t: t.replace('department = "civil_affairs"\n', ''),
     "[mca_officer]: a role that approves sharing needs the user's department"),
    ("roles.toml", lambda t: t.replace("approves_sharing = true", 'approves_sharing = "yes"'),
     "'approves_sharing' must be a bool"),
    ("scopes.toml", lambda t: t.replace('"3301"', '"3399"'), "division_prefix '3399' is not a division"),
    ("scopes.toml", lambda t: t.replace('"3301"', '"330"'), "must be '' (national) or 2, 4 or 6 digits"),
    ("roles.toml", lambda t: t.replace("row_limit = 10_000", "row_limit = 0"), "row_limit must be between"),
    ("roles.toml", lambda t: t.replace("time_limit_s = 10", "time_limit_s = true"), "must be a number"),
    ("roles.toml", lambda t: t + "\n[broken\n", "not valid TOML"),
    ("grants.toml", lambda t: t.replace("[open_data]", "[open_dat]"), "role 'open_dat' is not defined"),
    ("grants.toml", lambda t: t.replace('basis = "有条件共享', 'basis = "x" # "'),
     "basis must state the legal basis"),
    ("grants.toml", lambda t: t.replace('[[public_security.columns]]\nview = "population"',
                                        '[[public_security.columns]]\nview = "legal_entity"'),
     "view 'legal_entity' is not in this role's views"),
    ("grants.toml",
     lambda t: t.replace('unmask = ["resident_id"]', 'unmask = ["resident_id"]\nreveal = ["resident_id"]'),
     "column 'resident_id' is in both reveal and unmask"),
    ("masks.toml", lambda t: t.replace('person_name = "name"', 'person_nam = "name"'),
     "'person_nam' is not a data element (did you mean 'person_name'?)"),
    ("masks.toml", lambda t: t.replace('phone = "phone"', 'phone = "phon"'), "'phon' is not a mask kind"),
    ("table_flags.toml", lambda t: t.replace('default_pi = "none"', 'default_pi = "public"', 1),
     "default_pi 'public' is not one of none, personal, sensitive"),
]


@pytest.mark.parametrize(("file", "edit", "message"), BAD)
def test_bad_policy_files_are_refused(tmp_path: Path, file: str, edit: Callable[[str], str], message: str) -> None:
    folder = edited(tmp_path, file, edit)
    with pytest.raises(ConfigError) as caught:
        load_policies_from(folder)
    assert message in str(caught.value)
    assert str(folder / file) in str(caught.value)
