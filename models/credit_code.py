"""Unified social credit codes (统一社会信用代码, GB 32100-2015).

Eighteen characters: registration authority (1), entity kind (1), region code (6), the
organisation's own code (9, itself GB 11714 with a check digit), and a check character (1).
Imported unit lists carry these codes; a wrong check character means a typo, and the unit
would otherwise be counted twice under two codes.
"""

from __future__ import annotations

# The code's alphabet: digits and capitals without I, O, S, V, Z (easily misread).
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {char: value for value, char in enumerate(CHARSET)}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)  # 3^i mod 31

# GB 11714-1997 (组织机构代码): letters count from A = 10, as in base 36.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def credit_code_check_char(code17: str) -> str:
    """The 18th character for the first 17 of a credit code."""
    if len(code17) != 17:
        raise ValueError(f"a credit code body has 17 characters, not {len(code17)}")
    try:
        total = sum(_VALUE[char] * weight for char, weight in zip(code17, _WEIGHTS, strict=True))
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]!r} is not allowed in a credit code") from None
    return CHARSET[(31 - total % 31) % 31]


def is_valid_credit_code(code: str) -> bool:
    """Eighteen characters from the code's alphabet, ending in the right check character."""
    if len(code) != 18 or any(char not in _VALUE for char in code):
        return False
    return credit_code_check_char(code[:17]) == code[17]


def organisation_code_check_char(code8: str) -> str:
    """The 9th character of an organisation code (组织机构代码) for its first 8."""
    if len(code8) != 8 or not all(char.isdigit() or "A" <= char <= "Z" for char in code8):
        raise ValueError(f"an organisation code body is 8 digits or capitals, not {code8!r}")
    total = sum(int(char, 36) * weight for char, weight in zip(code8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))
