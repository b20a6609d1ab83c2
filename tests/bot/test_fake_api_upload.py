"""Files the bot uploads reach the fake Bot API, so tests can look at what users would see."""

from __future__ import annotations

import io
import struct
import zlib

from telegram import Bot, InputFile

from bot.fake_api import FakeBotApi
from bot.harness import FAKE_TOKEN

CHAT_ID = 10001


def png(width: int, height: int) -> bytes:
    """A valid, tiny, all-white greyscale PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xff" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def test_an_uploaded_photo_is_kept_with_its_call() -> None:
    api = FakeBotApi()
    picture = png(120, 90)
    async with Bot(FAKE_TOKEN, request=api, get_updates_request=api) as bot:
        message = await bot.send_photo(CHAT_ID, photo=picture, caption="进度")
    call = next(c for c in api.calls if c.method == "sendPhoto")
    assert call.files["photo"] == picture
    assert call.files["photo"].startswith(b"\x89PNG")
    assert "photo" not in call.params, "params stay JSON; the bytes are in files"
    assert call.params["caption"] == "进度"
    assert (message.photo[-1].width, message.photo[-1].height) == (120, 90)
    assert message.photo[-1].file_size == len(picture)


async def test_an_uploaded_document_is_kept_even_from_an_open_file() -> None:
    api = FakeBotApi()
    content = png(10, 10)
    # Left unread by PTB (since 21.5), the file handle reaches the request layer as it is.
    upload = InputFile(io.BytesIO(content), filename="chart.png", read_file_handle=False)
    async with Bot(FAKE_TOKEN, request=api, get_updates_request=api) as bot:
        await bot.send_document(CHAT_ID, document=upload)
    call = next(c for c in api.calls if c.method == "sendDocument")
    assert call.files == {"document": content}


async def test_a_photo_telegram_would_refuse_is_refused() -> None:
    api = FakeBotApi()
    status, body = api.answer("sendPhoto", {"chat_id": CHAT_ID}, {"photo": png(2100, 100)})
    assert status == 400
    assert body["description"] == "Bad Request: PHOTO_INVALID_DIMENSIONS"


async def test_a_photo_by_file_id_has_no_upload() -> None:
    api = FakeBotApi()
    async with Bot(FAKE_TOKEN, request=api, get_updates_request=api) as bot:
        await bot.send_photo(CHAT_ID, photo="photo-1")
    call = next(c for c in api.calls if c.method == "sendPhoto")
    assert call.files == {}
    assert call.params["photo"] == "photo-1"
