"""The fake Bot API behind a real HTTP server on 127.0.0.1, for testing `unionbot run` as a
process: what PTB's own HTTP layer sends, over a socket, as to Telegram."""

from __future__ import annotations

import itertools
import json
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from bot.fake_api import JSON, FakeBotApi

HOLD_LIMIT = 60.0  # seconds a "timeout" fault holds its answer, at most
RAW_STRINGS = {"text", "caption", "callback_query_id", "secret_token", "url"}


def decode(form: str) -> JSON:
    """PTB posts form fields, JSON-encoding everything that is not a string."""
    params: JSON = {}
    for key, value in parse_qsl(form, keep_blank_values=True):
        if key in RAW_STRINGS:
            params[key] = value
            continue
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


@contextmanager
def serve(
    api: FakeBotApi,
    token: str,
    *,
    hold_send: int = 0,
    holding: threading.Event | None = None,
    hold_if: Callable[[JSON], bool] = lambda params: True,
    lock: threading.Lock | None = None,
) -> Iterator[str]:
    """Serve `api` for `token`; yields the base URL for TELEGRAM_API_BASE_URL.

    `hold_send` = n holds the n-th sendMessage (of those `hold_if` picks) unanswered, as a
    slow network would, and sets `holding`: a test can kill the bot with a call in flight. A
    held call whose client has gone is dropped unrecorded: it never reached Telegram. Two
    servers may share one `api` (one per bot instance) if they share its `lock`.

    The api's random faults (`api.inject_faults`, see FakeBotApi.fault_rate) go over the wire
    as they would from Telegram: "429" and 5xx are answered; "drop" closes the socket with no
    answer (not recorded); "timeout" holds the answer until the client gives up waiting (its
    read timeout), having delivered the call first or not (`timeout_delivers`)."""
    answering = lock or threading.Lock()
    sends = itertools.count(1)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            prefix = f"/bot{token}/"
            if not self.path.startswith(prefix):
                self._send(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                return
            method = self.path[len(prefix) :]
            length = int(self.headers.get("Content-Length") or 0)
            params = decode(self.rfile.read(length).decode())
            if method == "sendMessage" and hold_if(params) and next(sends) == hold_send:
                if holding is not None:
                    holding.set()
                while not self._client_gone():
                    time.sleep(0.01)
                return
            with answering:
                fault = api.draw_fault(method)
                if fault not in ("drop", "timeout-lost"):
                    status, body = api.answer(method, params, fault=fault)
            if fault == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault is not None and fault.startswith("timeout"):
                self._wait_until_gone()
                return
            if method == "getUpdates" and not body.get("result"):
                time.sleep(0.2)  # long polling with nothing new
            self._send(status, body)

        def _send(self, status: int, body: JSON) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # a long poll answered to a bot that was killed meanwhile

        def _wait_until_gone(self) -> None:
            # Past any client's read timeout; a test's server shuts down well within it.
            waited = time.monotonic()
            while not self._client_gone() and time.monotonic() - waited < HOLD_LIMIT:
                time.sleep(0.01)
            self.close_connection = True

        def _client_gone(self) -> bool:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/bot"
    finally:
        server.shutdown()
        server.server_close()
