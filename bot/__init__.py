"""Wiring: settings, the application, the database, texts, the command line."""

import os

# python-telegram-bot 22 is moving time periods (RetryAfter.retry_after and the like) from
# int seconds to timedelta and warns on every int; we take the timedelta form now.
os.environ.setdefault("PTB_TIMEDELTA", "true")
