"""Identifier arithmetic: resident identity numbers (GB 11643) and credit codes (GB 32100).

All builders are vectorized: bodies are integer or index matrices, and the text comes out
as fixed-width numpy unicode arrays. The scalar helpers (``*_check_char``) serve the mess
injector, which rewrites a handful of values at a time.

- Resident ID: 6-digit address code + ``YYYYMMDD`` + 3-digit sequence (odd for men, even
  for women) + ISO 7064 MOD 11-2 check character (weights ``2^(18-i) mod 11``).
- USCC: authority + type + 6-digit division + 9-character organisation code (GB 11714,
  whose 9th character is its own MOD 11 check) + MOD 31 check character (weights
  ``3^i mod 31``) over the 31-character alphabet without I, O, Z, S and V.

>>> resident_check_char("33010619900307123")
'6'
>>> uscc_check_char("91110000600037341")
'L'
"""

from __future__ import annotations

import numpy as np

RESIDENT_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
RESIDENT_CHECK = np.array(list("10X98765432"))
_RESIDENT_CHECK_CODEPOINTS = np.array([ord(c) for c in "10X98765432"], dtype=np.int64)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_CHARS = np.array(list(USCC_ALPHABET))
USCC_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
#: GB 11714 weights for the 8-character organisation-code body [recalled, see docs].
ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
#: Value of each USCC alphabet character in GB 11714 (digits 0–9, letters A=10 … Z=35).
ORG_VALUES = np.array([int(ch, 36) for ch in USCC_ALPHABET], dtype=np.int64)
_ALPHABET_LUT = np.zeros(128, dtype=np.int64)
_ALPHABET_LUT[[ord(ch) for ch in USCC_ALPHABET]] = np.arange(31)


def _as_text(chars: np.ndarray) -> np.ndarray:
    """Rows of single characters (n × k, ``<U1``) as one k-character string per row."""
    chars = np.ascontiguousarray(chars.astype("<U1"))
    return chars.view(f"<U{chars.shape[1]}").ravel()


def resident_check_char(body: str) -> str:
    """The GB 11643 check character of a 17-digit body."""
    total = sum(int(d) * int(w) for d, w in zip(body, RESIDENT_WEIGHTS, strict=True))
    return str(RESIDENT_CHECK[total % 11])


def resident_ids(address_code: np.ndarray, birth_yyyymmdd: np.ndarray, sequence: np.ndarray) -> np.ndarray:
    """18-character resident IDs from integer address codes, birth dates and sequences."""
    body = (address_code.astype(np.int64) * 10**11 + birth_yyyymmdd.astype(np.int64) * 1000
            + sequence.astype(np.int64))
    powers = 10 ** np.arange(16, -1, -1, dtype=np.int64)
    digits = (body[:, None] // powers[None, :]) % 10
    check = _RESIDENT_CHECK_CODEPOINTS[(digits @ RESIDENT_WEIGHTS) % 11]
    codepoints = np.concatenate([digits + ord("0"), check[:, None]], axis=1).astype(np.uint32)
    return np.ascontiguousarray(codepoints).view("<U18").ravel()


def uscc_check_char(body: str) -> str:
    """The GB 32100 check character of a 17-character body."""
    total = sum(USCC_ALPHABET.index(ch) * int(w) for ch, w in zip(body, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_check_values(body: np.ndarray) -> np.ndarray:
    """GB 11714 check character (as a USCC alphabet index) for n × 8 alphabet-index bodies.

    C = 11 − (Σ value·weight mod 11); 10 is written X and 11 is written 0.
    """
    check = 11 - (ORG_VALUES[body] @ ORG_WEIGHTS) % 11
    return np.where(check == 10, USCC_ALPHABET.index("X"), np.where(check == 11, 0, check))


def usccs(prefix: np.ndarray, division: np.ndarray, org_body: np.ndarray) -> np.ndarray:
    """18-character credit codes.

    ``prefix`` holds 2-character authority+type strings (``"91"``), ``division`` 6-digit
    division codes as text, ``org_body`` an n × 8 matrix of alphabet indices (the
    organisation code without its check character).
    """
    head = np.char.add(prefix.astype("<U2"), division.astype("<U6")).astype("<U8")
    codepoints = np.ascontiguousarray(head).view(np.uint32).reshape(len(head), 8)
    head_index = _ALPHABET_LUT[codepoints]
    org_full = np.concatenate([org_body, org_check_values(org_body)[:, None]], axis=1)
    body = np.concatenate([head_index.astype(np.int64), org_full.astype(np.int64)], axis=1)
    check = (31 - (body @ USCC_WEIGHTS) % 31) % 31
    return _as_text(USCC_CHARS[np.concatenate([body, check[:, None]], axis=1)])
