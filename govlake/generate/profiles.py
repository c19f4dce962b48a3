"""Which defects each department's export can have: a literal table, one entry per dataset.

The authoritative source of a fact carries its true value apart from formatting that
standardization undoes: 公安 hukou for a person's name, birth date, sex and divisions,
市场监管 for an entity's registration. So hukou and market_entities get whitespace,
full-width digits, date formats and lowercase x, but never a wrong check character, a
conflicting name or a missing identity field. The other departments get those too.

Missing values are never injected into a dataset's key columns, nor into columns whose
emptiness means something (a closing date, a removal date, an employer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

ID_FORMAT = ("lowercase_x", "fullwidth", "whitespace")
ID_OTHER_SOURCE = ("bad_check_char", *ID_FORMAT)
ID_LINKED_BY_NAME = ("id_missing", "id_mistyped", *ID_OTHER_SOURCE)
NAME_OTHER_SOURCE = ("name_conflict", "whitespace")
CSV_ROWS = ("duplicate_row", "malformed_row")
EVENT_ROWS = ("duplicate_row", "late_record", "malformed_row")


@dataclass(frozen=True)
class Profile:
    """The mess a dataset can carry.

    ``cells``: catalog column → defect kinds allowed in it. ``person_of``: column →
    hidden column holding the resident ID of the person that column describes (default
    ``_person``). ``protect``: ID column → columns kept clean in a record whose ID is
    lost, so the record can be linked by name, birth date, sex and division.
    ``event``: the column whose date decides the earlier or later export file.
    """

    cells: Mapping[str, tuple[str, ...]]
    rows: tuple[str, ...] = ("duplicate_row",)
    person_of: Mapping[str, str] = field(default_factory=dict)
    protect: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    event: str | None = None


PROFILES: dict[str, Profile] = {
    "hukou": Profile(
        cells={
            "resident_id": ID_FORMAT,
            "name": ("whitespace",),
            "birth_date": ("date_format",),
            "hukou_division": ("fullwidth",),
            "hukou_address": ("whitespace", "missing_value"),
            "residence_division": ("fullwidth",),
            "deregistered_date": ("date_format",),
            "phone": ("fullwidth", "whitespace", "missing_value"),
            "updated_at": ("date_format",),
        },
        rows=CSV_ROWS,
    ),
    "births": Profile(
        cells={
            "name": ("whitespace", "missing_value"),
            "sex": ("missing_value",),
            "birth_date": ("birth_date_conflict", "date_format"),
            "birth_division": ("fullwidth", "missing_value"),
            "resident_id": ("id_missing", *ID_OTHER_SOURCE),
            "mother_name": NAME_OTHER_SOURCE,
            "mother_id": ID_LINKED_BY_NAME,
            "father_name": (*NAME_OTHER_SOURCE, "missing_value"),
            "father_id": ("id_missing", *ID_OTHER_SOURCE),
            "birth_weight_g": ("missing_value",),
        },
        rows=EVENT_ROWS,
        person_of={"mother_name": "_mother", "mother_id": "_mother", "father_name": "_father",
                   "father_id": "_father"},
        protect={"mother_id": ("mother_name",), "father_id": ("father_name",)},
        event="birth_date",
    ),
    "deaths": Profile(
        cells={
            "resident_id": ID_LINKED_BY_NAME,
            "name": NAME_OTHER_SOURCE,
            "sex": ("missing_value",),
            "birth_date": ("birth_date_conflict", "date_format", "missing_value"),
            "death_date": ("date_format",),
            "death_division": ("fullwidth", "missing_value"),
            "cause_of_death": ("missing_value",),
        },
        rows=EVENT_ROWS,
        protect={"resident_id": ("name", "sex", "birth_date", "death_division")},
        event="death_date",
    ),
    "marriages": Profile(
        cells={
            "husband_id": ID_LINKED_BY_NAME,
            "husband_name": NAME_OTHER_SOURCE,
            "husband_birth_date": ("birth_date_conflict", "date_format"),
            "wife_id": ID_LINKED_BY_NAME,
            "wife_name": NAME_OTHER_SOURCE,
            "wife_birth_date": ("birth_date_conflict", "date_format"),
            "registration_date": ("date_format",),
            "registry_division": ("fullwidth", "missing_value"),
        },
        rows=EVENT_ROWS,
        person_of={"husband_id": "_husband", "husband_name": "_husband", "husband_birth_date": "_husband",
                   "wife_id": "_wife", "wife_name": "_wife", "wife_birth_date": "_wife"},
        protect={"husband_id": ("husband_name", "husband_birth_date"), "wife_id": ("wife_name", "wife_birth_date")},
        event="registration_date",
    ),
    "social_insurance": Profile(
        cells={
            "resident_id": ID_OTHER_SOURCE,
            "name": (*NAME_OTHER_SOURCE, "missing_value"),
            "enrolled_date": ("date_format", "missing_value"),
            "division": ("fullwidth", "missing_value"),
            "employer_uscc": ("bad_check_char", "whitespace"),
        },
        protect={"resident_id": ("name",)},
    ),
    "market_entities": Profile(
        cells={
            "uscc": ("whitespace",),
            "entity_name": ("whitespace",),
            "legal_rep_name": NAME_OTHER_SOURCE,
            "legal_rep_id": ID_OTHER_SOURCE,
            "established_date": ("date_format",),
            "closed_date": ("date_format",),
            "address": ("whitespace",),
            "division": ("fullwidth",),
            "business_scope": ("missing_value",),
            "registry_authority": ("missing_value",),
        },
        rows=CSV_ROWS,
        person_of={"legal_rep_name": "_rep", "legal_rep_id": "_rep"},
        protect={"legal_rep_id": ("legal_rep_name",)},
    ),
    "social_orgs": Profile(
        cells={
            "uscc": ("whitespace",),
            "org_name": ("whitespace",),
            "registry_authority": ("missing_value",),
            "established_date": ("date_format",),
            "legal_rep_name": NAME_OTHER_SOURCE,
            "legal_rep_id": ID_OTHER_SOURCE,
            "division": ("fullwidth",),
            "business_scope": ("missing_value",),
        },
        rows=CSV_ROWS,
        person_of={"legal_rep_name": "_rep", "legal_rep_id": "_rep"},
        protect={"legal_rep_id": ("legal_rep_name",)},
    ),
    "tax_credit": Profile(
        cells={
            "uscc": ("bad_check_char", "whitespace"),
            "taxpayer_name": ("name_conflict", "missing_value"),
            "tax_authority": ("missing_value",),
        },
        protect={"uscc": ("taxpayer_name",)},
    ),
    "dishonest_debtors": Profile(
        cells={
            "debtor_name": NAME_OTHER_SOURCE,
            "debtor_id": ID_OTHER_SOURCE,
            "court_division": ("fullwidth", "missing_value"),
            "filed_date": ("date_format", "missing_value"),
            "published_date": ("date_format",),
            "conduct": ("missing_value",),
            "removed_date": ("date_format",),
        },
        rows=CSV_ROWS,
        protect={"debtor_id": ("debtor_name",)},
    ),
    "admin_licences": Profile(
        cells={
            "party_name": NAME_OTHER_SOURCE,
            "party_id": ("bad_check_char", "fullwidth", "whitespace"),
            "licence_no": ("missing_value",),
            "content": ("missing_value",),
            "decision_date": ("date_format",),
            "valid_from": ("date_format",),
            "valid_to": ("date_format",),
            "division": ("fullwidth", "missing_value"),
        },
        rows=CSV_ROWS,
        protect={"party_id": ("party_name",)},
    ),
    "admin_penalties": Profile(
        cells={
            "party_name": NAME_OTHER_SOURCE,
            "party_id": ("bad_check_char", "fullwidth", "whitespace"),
            "facts": ("missing_value",),
            "legal_basis": ("missing_value",),
            "decision_date": ("date_format",),
            "division": ("fullwidth", "missing_value"),
            "publicity_until": ("date_format",),
        },
        rows=CSV_ROWS,
        protect={"party_id": ("party_name",)},
    ),
    "e_licences": Profile(
        cells={
            "holder_name": NAME_OTHER_SOURCE,
            "holder_code": ID_OTHER_SOURCE,
            "issuer": ("missing_value",),
            "issuer_code": ("whitespace",),
            "issued_date": ("date_format",),
            "valid_from": ("date_format",),
            "division": ("fullwidth", "missing_value"),
        },
        rows=CSV_ROWS,
        protect={"holder_code": ("holder_name",)},
    ),
    "land_parcels": Profile(
        cells={
            "location_text": ("whitespace", "missing_value"),
            "land_use": ("missing_value",),
            "holder_name": ("name_conflict",),
            "holder_id": ("bad_check_char", "whitespace"),
            "right_type": ("missing_value",),
            "registered_date": ("date_format",),
        },
        protect={"holder_id": ("holder_name",)},
    ),
}
