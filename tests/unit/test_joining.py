"""Online joining's pure parts: join codes and their expiry, who acts for a street, and the QR
code picture (a PNG whose modules are exactly the QR code of the link)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
import segno
from PIL import Image

from models.enums import Role
from models.joining import (
    QR_SCALE,
    LinkState,
    link_code,
    link_state,
    may_act_for,
    qr_png,
)
from models.tables import JoinLink

LINK = "https://t.me/unionbot_demo_bot?start=join-AbCdEfGhIjKlMnOp"
NOW = datetime(2018, 3, 15, 9, tzinfo=UTC)


def modules(png: bytes, scale: int) -> list[list[bool]]:
    """The PNG read back module by module (the centre pixel of each scale × scale square)."""
    image = Image.open(io.BytesIO(png)).convert("L")
    width, height = image.size
    assert width == height and width % scale == 0
    pixels, side, centre = image.tobytes(), width // scale, scale // 2
    return [
        [pixels[(y * scale + centre) * width + x * scale + centre] < 128 for x in range(side)]
        for y in range(side)
    ]


def test_the_qr_png_holds_exactly_the_qr_code_of_the_link() -> None:
    png = qr_png(LINK)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    code = segno.make(LINK, error="m", micro=False)
    expected = [[bool(v) for v in row] for row in code.matrix_iter(scale=1, border=4)]
    assert modules(png, QR_SCALE) == expected
    # A link of this length is a version 4 code (33 modules) with its quiet zone of 4:
    # (33 + 8) × 12 = 492 pixels, sharp on a phone and well within Telegram's photo limits.
    assert Image.open(io.BytesIO(png)).size == (492, 492)
    assert len(png) < 10_000


def test_another_link_gives_another_picture() -> None:
    assert qr_png(LINK) != qr_png(LINK.replace("AbCd", "XyZw"))


@pytest.mark.parametrize(
    ("payload", "code"),
    [("join-AbC_d-9", "AbC_d-9"), ("join-", ""), ("AbCdEf", None), ("meeting", None)],
)
def test_only_join_payloads_are_join_codes(payload: str, code: str | None) -> None:
    assert link_code(payload) == code


def test_a_link_is_valid_strictly_before_its_expiry() -> None:
    link = JoinLink(code="c", street_id=1, created_by=1, created_at=NOW,
                    expires_at=NOW + timedelta(days=7))  # fmt: skip
    assert link_state(link, NOW) is LinkState.VALID
    assert link_state(link, NOW + timedelta(days=7) - timedelta(seconds=1)) is LinkState.VALID
    assert link_state(link, NOW + timedelta(days=7)) is LinkState.EXPIRED
    assert link_state(None, NOW) is LinkState.UNKNOWN


@pytest.mark.parametrize(
    ("role", "own", "allowed"),
    [
        (Role.DISTRICT_ADMIN, None, True),
        (Role.STREET_OFFICER, 7, True),
        (Role.COMMUNITY_WORKER, 7, True),
        (Role.STREET_OFFICER, 9, False),
        (None, None, False),
    ],
)
def test_a_streets_own_officers_and_admins_act_for_it(
    role: Role | None, own: int | None, allowed: bool
) -> None:
    assert may_act_for(role=role, own_street_id=own, street_id=7) is allowed
