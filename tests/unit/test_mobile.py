"""Mobile numbers as people type them, and as the bot shows them."""

from __future__ import annotations

import pytest

from models.mobile import mask_mobile, normalise_mobile


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("13812345678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),  # full-width digits
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("008613812345678", "13812345678"),
        (" 19912345678 ", "19912345678"),
    ],
)
def test_numbers_are_normalised(typed: str, number: str) -> None:
    assert normalise_mobile(typed) == number


@pytest.mark.parametrize(
    "typed",
    ["", "1381234567", "138123456789", "12812345678", "23812345678", "010-12345678",
     "1381234567x", "abc", "8613812345678x"],
)  # fmt: skip
def test_non_numbers_are_refused(typed: str) -> None:
    assert normalise_mobile(typed) is None


def test_masked_for_every_chat_and_log_line() -> None:
    assert mask_mobile("13812345678") == "138****5678"
