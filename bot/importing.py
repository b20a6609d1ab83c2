"""`unionbot import KIND FILE`: the district's data lists from the command line.

The same report the bot gives in a chat (what the sheet is read as, its columns, what
importing would change, the problems by row and column), then, on "y" or --yes, the import in
one transaction. Reading and writing show a progress bar on a terminal (tqdm; none when
output goes to a file or a pipe).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bot.clock import Clock
from bot.db import Database
from bot.fake_api import visible
from bot.settings import Settings
from bot.texts import t
from handlers.data_import import refusal, report_text, result_text
from models.enums import Language
from models.sheets import FileRefused, Progress, formula_cells
from models.unit_import import (
    NEEDS,
    ImportKind,
    apply_import,
    check,
    load_facts,
    plan_changes,
    read_sheet,
)


def _bar(desc: str, lang: Language) -> tqdm[Any]:
    return tqdm(desc=desc, unit=t("export.cli.rows", lang), file=sys.stderr, disable=None)


def _follow(bar: tqdm[Any]) -> Progress:
    def progress(done: int, total: int | None) -> None:
        if total and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    return progress


async def import_command(settings: Settings, kind: ImportKind, path: Path, *, yes: bool) -> int:
    lang = Language(settings.default_language)
    clock = Clock(settings.zone, settings.bot_today)
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        print(f"unionbot: {path}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        with _bar(path.name, lang) as bar:
            table = await asyncio.to_thread(read_sheet, data, path.name, _follow(bar))
    except FileRefused as refused:
        print(f"unionbot: {visible(refusal(refused, lang))}", file=sys.stderr)
        return 1
    if missing := sorted(NEEDS[kind] - table.columns.keys()):
        names = "、".join(t(f"data_import.field.{f}", lang) for f in missing)
        said = t("data_import.cli_kind_mismatch", lang, kind=t(f"data_import.kind.{kind}", lang),
                 missing=names)  # fmt: skip
        print(f"unionbot: {said}", file=sys.stderr)
        return 1
    db = Database(settings.database_url)
    try:
        await db.upgrade()
        async with db.session() as session:
            facts = await load_facts(session=session)
        today = clock.today()
        review = await asyncio.to_thread(
            check, table, kind, facts, today=today,
            formulas=lambda cells: formula_cells(data, cells),
        )  # fmt: skip
        changes = plan_changes(review, facts, today=today)
        print(visible(report_text(review, changes, lang, file_name=path.name, limit=None)))
        question = t("data_import.cli_confirm", lang, count=f"{review.good_rows:,}")
        if not review.good_rows or not (yes or confirmed(question)):
            print(visible(t("data_import.cancelled", lang)))
            return 1
        with _bar(t("data_import.cli_writing", lang), lang) as bar:
            async with db.session(write=True) as session:
                result = await apply_import(
                    session=session, review=review, by_user_id=None, now=clock.now(),
                    today=today, file_name=path.name, progress=_follow(bar),
                )  # fmt: skip
    finally:
        await db.dispose()
    print(visible(result_text(result, kind, lang, file_name=path.name)))
    return 0


def confirmed(question: str) -> bool:
    """y/N on the terminal; without one (input from a pipe that ends) the answer is no."""
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False
