"""The `unionbot` command line (also `python -m bot`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from pydantic import SecretStr
from sqlmodel import select

from bot.app import build_application, run_polling
from bot.clock import Clock
from bot.console import DEMO_USERS, DemoUser, chat
from bot.db import Database
from bot.exporting import export_command
from bot.fake_api import visible
from bot.importing import confirmed, import_command
from bot.logs import configure_logging, secrets_to_hide
from bot.settings import Settings, SettingsError, load_settings
from bot.texts import t
from bot.web import listen, run_webhook
from handlers.members import refusal_text, report_text
from handlers.status_view import district_text, street_text
from models.chats import find_street
from models.demo import DemoAlreadySeeded, seed_demo
from models.enums import Language
from models.exports import ExportKind
from models.member_import import Column, import_members, read_table, review
from models.officers import ensure_officer
from models.plan import PlanError, load_plan
from models.sheets import FileRefused
from models.status import district_status, street_status
from models.tables import Unit
from models.unit_import import ImportKind
from reminders.messages import explain, render, rule_label, when
from reminders.tick import plan_tick

DEMO_DATABASE = Path("data/demo.db")
DEMO_TODAY = date(2018, 3, 15)  # a fortnight after the plan's baseline, before the first report


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="unionbot",
        description="工会助手 unionbot — a Telegram assistant for district trade-union officers. "
        "Settings come from the environment or .env (see .env.example).",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run the bot against Telegram (long polling); needs TELEGRAM_BOT_TOKEN",
        description="Connect to the Bot API at TELEGRAM_API_BASE_URL with TELEGRAM_BOT_TOKEN, "
        "apply migrations, register the commands and answer updates until SIGINT/SIGTERM.",
    )
    run.add_argument(
        "--webhook", action="store_true",
        help="receive updates by webhook instead of long polling: serve WEBHOOK_PATH and "
        "/health on WEBHOOK_LISTEN:WEBHOOK_PORT (needs WEBHOOK_URL and WEBHOOK_SECRET_TOKEN)",
    )  # fmt: skip

    demo = sub.add_parser(
        "demo",
        help="offline demo: a demo database with the 2018 baseline and a terminal chat",
        description="No token and no network needed. Creates the demo database with the 2018 "
        "Fangshan baseline if it does not exist, then opens a terminal chat with the bot.",
    )
    demo.add_argument(
        "--database",
        type=Path,
        default=DEMO_DATABASE,
        help=f"SQLite file for the demo (default: {DEMO_DATABASE})",
    )
    demo.add_argument("--fresh", action="store_true", help="delete the demo database first")
    _as_argument(demo)

    console = sub.add_parser(
        "console",
        help="chat with the bot in the terminal against the configured DATABASE_URL",
        description="Like the demo, but on DATABASE_URL as it is (no seeding).",
    )
    _as_argument(console)

    sub.add_parser(
        "seed-demo",
        help="fill the configured database with the deterministic 2018 demo dataset",
        description="Migrate DATABASE_URL and fill it with the demo dataset that reproduces the "
        "2018 plan's baseline exactly. Refuses if the database already holds units.",
    )

    status = sub.add_parser(
        "status",
        help="how much is left: the district's figures (or one street's), as /status shows them",
        description="Print the live figures from DATABASE_URL against the plan, as the bot's "
        "/status does, in DEFAULT_LANGUAGE; --json for the figures as data.",
    )
    status.add_argument("--street", metavar="NAME", help="one street, by full or short name")
    status.add_argument("--json", action="store_true", help="print the figures as JSON")

    reminders = sub.add_parser(
        "reminders", help="the reminder schedule", description="The reminder schedule."
    )
    reminders_sub = reminders.add_subparsers(dest="reminders_command", required=True,
                                             metavar="ACTION")  # fmt: skip
    preview = reminders_sub.add_parser(
        "preview",
        help="what a reminder tick at a moment would send, to whom, and why",
        description="Plan the reminders due at --at (within the plan's grace period and not "
        "sent yet) from DATABASE_URL, exactly as the running bot's tick would, and print "
        "them without sending anything.",
    )
    preview.add_argument(
        "--at", required=True, type=_moment, metavar="WHEN",
        help="local time in the plan's zone, e.g. 2018-03-15T09:00",
    )  # fmt: skip
    preview.add_argument("--json", action="store_true", help="print the reminders as JSON")

    members = sub.add_parser("members", help="new members", description="New members.")
    members_sub = members.add_subparsers(dest="members_command", required=True,
                                         metavar="ACTION")  # fmt: skip
    imported = members_sub.add_parser(
        "import",
        help="register new members from a .xlsx or .csv list (UTF-8 or GBK)",
        description="Check every row of FILE against DATABASE_URL as the bot does with a list "
        "sent to it, print the problems by row and column, and register the good rows (their "
        "welcome SMS queued) after a y/N question.",
    )
    imported.add_argument("file", type=Path, metavar="FILE", help="a .xlsx or .csv file")
    imported.add_argument(
        "--street", metavar="NAME",
        help="the street of the rows that name none (full or short name)",
    )  # fmt: skip
    imported.add_argument("--yes", action="store_true", help="register without asking")

    export = sub.add_parser(
        "export",
        help="write a spreadsheet (.xlsx or .csv): ledger, meetings, reports, ranking, members, "
        "units",
        description="Write KIND from DATABASE_URL to FILE as a district admin sees it, with a "
        "progress bar on a terminal. --period takes 2018-03, 2018-Q1, 2018 or "
        "2018-03-01..2018-05-31 (meetings by the day held, members by the day joined, reports "
        "by month or quarter: this month's without it).",
    )
    export.add_argument("kind", choices=list(ExportKind), metavar="KIND",
                        help=f"one of: {', '.join(ExportKind)}")  # fmt: skip
    export.add_argument("--out", required=True, type=Path, metavar="FILE", help="where to write")
    export.add_argument("--street", metavar="NAME", help="one street (full or short name)")
    export.add_argument("--period", metavar="P", help="2018-03, 2018-Q1, 2018 or a..b")
    export.add_argument("--csv", action="store_true", help="CSV (UTF-8) instead of .xlsx")

    imports = sub.add_parser(
        "import",
        help="import the tax list of units, social-security headcounts or member-system records",
        description="Read FILE (.xlsx, or .csv in UTF-8 or GBK), print the report the bot gives "
        "in a chat (columns, what would change, problems by row and column), then import its "
        "good rows on y (or --yes). Units are matched by credit code: the same file twice "
        "changes nothing.",
    )
    imports.add_argument("kind", choices=[k.value.replace("_", "-") for k in ImportKind],
                         metavar="KIND", help="units, social or member-system")  # fmt: skip
    imports.add_argument("file", type=Path, metavar="FILE")
    imports.add_argument("--yes", action="store_true", help="import without asking")

    db = sub.add_parser("db", help="database maintenance", description="Database maintenance.")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser(
        "upgrade",
        help="apply all pending migrations to DATABASE_URL",
        description="Apply all pending migrations to DATABASE_URL (idempotent).",
    )
    return p


def _as_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--as",
        dest="as_user",
        default="admin",
        metavar="WHO",
        help=f"whom to chat as: {', '.join(sorted(DEMO_USERS))} (the demo's people; default "
        "admin, a district admin) or a numeric Telegram user id",
    )


def _moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time like 2018-03-15T09:00") from None


def _chat_user(who: str) -> DemoUser:
    if who in DEMO_USERS:
        return DEMO_USERS[who]
    if who.isdigit():
        return DemoUser(int(who), f"用户 {who}", None)
    raise SettingsError(f"--as {who}: expected {', '.join(sorted(DEMO_USERS))} or a user id")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        _logging(load_settings(), args.command)
        return _dispatch(args)
    except (SettingsError, PlanError) as exc:
        print(f"unionbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _logging(settings: Settings, command: str) -> None:
    """LOG_LEVEL and LOG_FORMAT; the bot token and the webhook's secret never logged."""
    secrets = [
        value.get_secret_value() if isinstance(value, SecretStr) else value
        for value in (settings.telegram_bot_token, getattr(settings, "webhook_secret_token", None))
        if value
    ]
    configure_logging(
        level=settings.log_level or ("INFO" if command == "run" else "WARNING"),
        log_format=settings.log_format,
        secrets=secrets_to_hide(*secrets),
    )


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return _run(load_settings(), webhook=args.webhook)
    if args.command == "demo":
        if args.fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{args.database}{suffix}").unlink(missing_ok=True)
        return asyncio.run(_demo(args))
    if args.command == "console":
        return asyncio.run(_console(load_settings(), args.as_user, "DATABASE_URL"))
    if args.command == "seed-demo":
        return asyncio.run(_seed(load_settings()))
    if args.command == "status":
        return asyncio.run(_status(load_settings(), args.street, as_json=args.json))
    if args.command == "reminders":
        return asyncio.run(_preview(load_settings(), args.at, as_json=args.json))
    if args.command == "db":
        return asyncio.run(_upgrade(load_settings()))
    if args.command == "members":
        return asyncio.run(_import_members(load_settings(), args.file, args.street, yes=args.yes))
    if args.command == "import":
        kind = ImportKind(args.kind.replace("-", "_"))
        return asyncio.run(import_command(load_settings(), kind, args.file, yes=args.yes))
    if args.command == "export":
        return asyncio.run(export_command(load_settings(), ExportKind(args.kind), args.out,
                                          street=args.street, period=args.period,
                                          as_csv=args.csv))  # fmt: skip
    raise AssertionError(args.command)


def _run(settings: Settings, *, webhook: bool = False) -> int:
    settings.token()  # refuse early, in one line, without a token
    if webhook:
        settings.webhook()  # and without the webhook's URL or secret, or its port
        with listen(settings) as listening:
            run_webhook(build_application(settings), listening)
    else:
        run_polling(build_application(settings))
    return 0


async def _demo(args: argparse.Namespace) -> int:
    base = load_settings()
    admins = {DEMO_USERS["admin"].user_id, *base.bot_admin_ids}
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{args.database}",
        bot_today=base.bot_today or DEMO_TODAY,
        bot_admin_ids=",".join(str(i) for i in sorted(admins)),
    )
    await _prepare_demo(settings)
    return await _console(settings, args.as_user, str(args.database))


@asynccontextmanager
async def _migrated(settings: Settings) -> AsyncIterator[Database]:
    """DATABASE_URL at the latest migration, closed when the command is done."""
    db = Database(settings.database_url)
    try:
        await db.upgrade()
        yield db
    finally:
        await db.dispose()


async def _prepare_demo(settings: Settings) -> None:
    """Create the demo database on first use: migrations, the baseline, the demo people."""
    plan = load_plan(settings.plan_file)
    now = Clock(settings.zone, settings.bot_today).now()
    async with _migrated(settings) as db, db.session(write=True) as session:
        if (await session.exec(select(Unit.id).limit(1))).first() is None:
            print(t("console.seeding", settings.default_language), file=sys.stderr)
            await seed_demo(session=session, plan=plan)
        for user in DEMO_USERS.values():
            if user.role is not None:
                await ensure_officer(
                    session=session,
                    telegram_user_id=user.user_id,
                    role=user.role,
                    street_name=user.street,
                    display_name=user.name,
                    language=Language(settings.default_language),
                    now=now,
                )


async def _console(settings: Settings, as_user: str, database_label: str) -> int:
    await chat(settings, _chat_user(as_user), database_label=database_label)
    return 0


async def _seed(settings: Settings) -> int:
    plan = load_plan(settings.plan_file)
    try:
        async with _migrated(settings) as db, db.session(write=True) as session:
            await seed_demo(session=session, plan=plan)
    except DemoAlreadySeeded as exc:
        print(f"unionbot: {exc}", file=sys.stderr)
        return 1
    print("demo dataset written")
    return 0


async def _upgrade(settings: Settings) -> int:
    async with _migrated(settings):
        pass
    print("database is at the latest migration")
    return 0


async def _status(settings: Settings, street: str | None, *, as_json: bool) -> int:
    plan = load_plan(settings.plan_file)
    today = Clock(settings.zone, settings.bot_today).today()
    lang = Language(settings.default_language)
    async with _migrated(settings) as db, db.session() as session:
        if street is None:
            district = await district_status(session=session, plan=plan, today=today)
            figures: object = district
            text = district_text(district, plan, lang)
        else:
            scope = await find_street(session=session, name=street)
            if scope is None or scope.street_id is None:
                print(f"unionbot: no street matches {street!r}", file=sys.stderr)
                return 1
            found = await street_status(
                session=session, plan=plan, street_id=scope.street_id, today=today
            )
            assert found is not None
            figures, text = found, street_text(found, plan, lang)
    if as_json:
        print(json.dumps(_plain(figures), ensure_ascii=False, indent=2))
    else:
        print(visible(text))
    return 0


async def _preview(settings: Settings, at: datetime, *, as_json: bool) -> int:
    plan = load_plan(settings.plan_file)
    now = at if at.tzinfo is not None else at.replace(tzinfo=plan.zone)
    lang = Language(settings.default_language)
    async with _migrated(settings) as db, db.session() as session:
        tick = await plan_tick(session=session, plan=plan, now=now, language=lang, since=None)
    if as_json:
        rows = [
            {"due_at": r.due_at.isoformat(), "rule": r.rule.value, "key": r.key,
             "chat_id": r.recipient.chat_id, "recipient": r.recipient.name,
             "private": r.recipient.private, "why": visible(explain(r, lang)),
             "text": render(r)}
            for r in tick.fresh
        ]  # fmt: skip
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    print(t("remind.preview_title", lang, when=when(now, plan.zone, lang), count=len(tick.fresh)))
    for r in tick.fresh:
        print(t("remind.preview_line", lang, when=when(r.due_at, plan.zone, lang),
                rule=rule_label(r.rule, lang), to=r.recipient.name, chat=r.recipient.chat_id,
                why=visible(explain(r, lang))))  # fmt: skip
        print("    " + visible(render(r)).replace("\n", "\n    "))
    return 0


async def _import_members(settings: Settings, path: Path, street: str | None, *, yes: bool) -> int:
    """The bot's report on a list of members, then its good rows registered on "y"."""
    plan = load_plan(settings.plan_file)
    clock = Clock(settings.zone, settings.bot_today)
    lang = Language(settings.default_language)
    try:
        table = read_table(await asyncio.to_thread(path.read_bytes), path.name)
    except OSError as exc:
        print(f"unionbot: {path}: {exc.strerror}", file=sys.stderr)
        return 1
    except FileRefused as refused:
        print(f"unionbot: {visible(refusal_text(refused, lang))}", file=sys.stderr)
        return 1
    async with _migrated(settings) as db:
        async with db.session() as session:
            scope = await find_street(session=session, name=street) if street else None
            problem = (
                t("member_import.cli_street_unknown", lang, street=street)
                if street and (scope is None or scope.street_id is None)
                else t("member_import.cli_needs_street", lang)
                if scope is None and Column.STREET not in table.columns
                else None
            )  # fmt: skip
            if problem is not None:
                print(f"unionbot: {problem}", file=sys.stderr)
                return 1
            report = await review(
                session=session, table=table, street_id=scope.street_id if scope else None,
                own_street_id=None, today=clock.today(),
            )  # fmt: skip
        print(visible(report_text(report, lang, file_name=path.name, limit=None)))
        question = t("member_import.cli_confirm", lang, count=len(report.good))
        if not report.good or not (yes or confirmed(question)):
            print(visible(t("member_import.cancelled", lang)))
            return 1
        async with db.session(write=True) as session:
            result = await import_members(
                session=session, plan=plan, rows=report.good, by_user_id=None, now=clock.now(),
                chat_id=None, file_name=path.name,
            )  # fmt: skip
    print(visible(t("member_import.done", lang, registered=result.registered)))
    if result.skipped:
        print(visible(t("member_import.skipped", lang, skipped=result.skipped)))
    print(visible(t("member_import.progress", lang, count=result.welcomes)))
    return 0


def _plain(value: object) -> object:
    """Figures as JSON data: dataclasses with their computed properties (what remains, the
    verdicts), dates as ISO strings, percentages as numbers."""
    if is_dataclass(value) and not isinstance(value, type):
        data = {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
        for name, member in vars(type(value)).items():
            if isinstance(member, property):
                data[name] = _plain(getattr(value, name))
        return data
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
