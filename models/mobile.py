"""Mainland China mobile numbers: read as people type them, shown masked.

A number is 11 digits starting 13–19 (1[3-9]xxxxxxxxx). People type full-width digits
(１３８…), spaces and dashes (138 1234 5678, 138-1234-5678) and a country code (+86, 0086);
all are normalised away. Everywhere a number is shown in a chat or written to a log, it is
masked: 138****5678.
"""

from __future__ import annotations

import re
import unicodedata

# ASCII digits only: \d would take ٣ or ३, which no gateway can dial (NFKC leaves them).
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_SEPARATORS = re.compile(r"[\s\-‐‑–—()（）]")
# A number inside other text, alone or after +86/0086 (not a run of digits of another length).
_MOBILE_ANYWHERE = re.compile(r"(?:(?<!\d)|(?<=86))1[3-9]\d{9}(?!\d)")


def normalise_mobile(text: str) -> str | None:
    """The 11-digit number, or None if `text` is not a mainland mobile number."""
    digits = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
            break
    return digits if _MOBILE.fullmatch(digits) else None


def mask_mobile(mobile: str) -> str:
    """138****5678: enough to tell numbers apart, not enough to call."""
    if len(mobile) < 7:
        return "*" * len(mobile)
    return f"{mobile[:3]}****{mobile[-4:]}"


def mask_mobiles(text: str) -> str:
    """`text` with every 11-digit mobile number in it masked (for log lines and scrubbed
    gateway answers)."""
    return _MOBILE_ANYWHERE.sub(lambda m: mask_mobile(m.group(0)), text)
