"""/compare: the three-way comparison of the tax list, social security and the member system
(models/comparison.py) in one message, edited on every press: the counts of each blind spot
(a district admin also sees them per street), a blind spot's units 8 a page, a unit's card,
and back; and the whole comparison as a spreadsheet, a sheet per blind spot.

A district admin compares the district, or one street (/compare and a street's name, or
the street button); a street officer their own street. It lists units by name with their
figures, so it answers in a private chat only, like /mine and /member.

Callback data, parsed strictly (<scope>: "-" for the district, or a street id):
  "cmp:h:<scope>"                         the counts
  "cmp:f"                                  choose a street (district admins)
  "cmp:l:<scope>:<spot>:<page>"            a blind spot's units
  "cmp:u:<unit>:<scope>:<spot>:<page>"     a unit's card, back to that page
  "cmp:o:<row>:<scope>:<spot>:<page>"      a unit only social security or the member system has
  "cmp:x:<scope>"                          the spreadsheet
Every press re-checks that the presser may compare that scope and see that unit.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass

from telegram import InlineKeyboardMarkup, InputFile, Update

from bot.context import BotContext
from bot.texts import t
from bot.workbook import write_xlsx
from handlers.common import Button, edit, esc, grid, is_private, keyboard, reply
from handlers.status_view import card_text, full_date, number, percent
from models.chats import find_street, street_scope
from models.comparison import (
    SOURCE_OF,
    SOURCES,
    BlindSpot,
    Comparison,
    SourceCard,
    SpotCounts,
    SpotLine,
    SpotPage,
    compare,
    comparison_sheets,
    may_compare,
    source_card,
    spot_page,
)
from models.enums import Language, Role
from models.geography import street_ids
from models.plan import Plan
from models.units import unit_card

SPOT_CODES = {
    "b": BlindSpot.UNORGANISED_100,
    "m": BlindSpot.LOW_MEMBERSHIP,
    "t": BlindSpot.TAX_ONLY,
    "s": BlindSpot.SOCIAL_ONLY,
    "y": BlindSpot.MEMBER_SYSTEM_ONLY,
    "n": BlindSpot.NOT_IN_MEMBER_SYSTEM,
}
CODE_OF = {spot: code for code, spot in SPOT_CODES.items()}
_SCOPE = r"(?:-|\d{1,6})"
_PAGE = rf"{_SCOPE}:[{''.join(SPOT_CODES)}]:\d{{1,4}}"
COMPARE_CALLBACK = rf"^cmp:(?:h:{_SCOPE}|f|x:{_SCOPE}|l:{_PAGE}|[uo]:\d{{1,9}}:{_PAGE})$"


@dataclass(frozen=True)
class View:
    """Where the message is: a scope, and within it a blind spot's page."""

    street_id: int | None  # None: the district
    spot: BlindSpot = BlindSpot.UNORGANISED_100
    page: int = 0

    @property
    def scope(self) -> str:
        return "-" if self.street_id is None else str(self.street_id)

    @property
    def home(self) -> str:
        return f"cmp:h:{self.scope}"

    def list_data(self, page: int | None = None) -> str:
        return f"cmp:l:{self.scope}:{CODE_OF[self.spot]}:{self.page if page is None else page}"


def _scope_of(field: str) -> int | None:
    return None if field == "-" else int(field)


def _may(context: BotContext, street_id: int | None) -> bool:
    actor = context.actor
    return may_compare(role=actor.role, own_street_id=actor.street_id, street_id=street_id)


# --- /compare -----------------------------------------------------------------------------


async def compare_command(update: Update, context: BotContext) -> None:
    actor, lang = context.actor, context.lang
    if not is_private(update):
        await reply(update, t("flow.private_chat", lang))
        return
    if actor.role not in (Role.DISTRICT_ADMIN, Role.STREET_OFFICER):
        await reply(update, t("compare.officers_only", lang))
        return
    if not actor.is_admin and actor.street_id is None:
        await reply(update, t("status.no_street", lang))
        return
    named = " ".join(context.args or []).strip()[:40]
    street_id = None if actor.is_admin else actor.street_id
    if named:
        async with context.db.session() as session:
            scope = await find_street(session=session, name=named)
        if scope is None:
            await reply(update, t("status.street_unknown", lang, name=esc(named)))
            return
        if not _may(context, scope.street_id):
            await reply(update, t("status.own_street_only", lang, street=esc(actor.street_name)))
            return
        street_id = scope.street_id
    text, markup = await _overview(context, street_id)
    await reply(update, text, markup)


async def compare_pressed(update: Update, context: BotContext) -> None:
    query, lang = update.callback_query, context.lang
    assert query is not None and query.data is not None
    action, *fields = query.data.split(":")[1:]
    if action == "f":
        if not context.actor.is_admin:
            await query.answer(t("compare.refused", lang), show_alert=True)
            return
        await query.answer()
        await _choose_street(update, context)
        return
    row_id = int(fields.pop(0)) if action in ("u", "o") else 0
    street_id = _scope_of(fields[0])
    if not _may(context, street_id) or not await _street_exists(context, street_id):
        await query.answer(t("compare.refused", lang), show_alert=True)
        return
    if action == "h":
        await query.answer()
        await edit(update, *await _overview(context, street_id))
        return
    if action == "x":
        await query.answer(t("compare.preparing", lang))
        await _send_sheets(update, context, street_id)
        return
    view = View(street_id, SPOT_CODES[fields[1]], int(fields[2]))
    if action == "l":
        await query.answer()
        await _show_page(update, context, view)
    elif action == "u":
        await _show_unit(update, context, view, row_id)
    else:
        await _show_source(update, context, view, row_id)


async def _street_exists(context: BotContext, street_id: int | None) -> bool:
    if street_id is None:
        return True
    async with context.db.session() as session:
        return await street_scope(session=session, street_id=street_id) is not None


# --- the counts -----------------------------------------------------------------------------


async def _overview(context: BotContext, street_id: int | None) -> tuple[str, InlineKeyboardMarkup]:
    lang, plan = context.lang, context.plan
    async with context.db.session() as session:
        comparison = await compare(session=session, plan=plan, street_id=street_id)
        scope = None if street_id is None else await street_scope(session=session,
                                                                   street_id=street_id)  # fmt: skip
    title = (
        t("compare.title_district", lang) if scope is None
        else t("compare.title_street", lang, street=esc(scope.street_name))
    )  # fmt: skip
    text = overview_text(comparison, plan, lang, title=title)
    view = View(street_id)
    buttons: list[Button] = [
        (t("compare.button", lang, label=t(f"compare.short.{spot.value}", lang),
           count=number(comparison.total[spot])), View(street_id, spot).list_data())
        for spot in BlindSpot
    ]  # fmt: skip
    rows = grid(buttons, 2)
    last: list[Button] = [(t("compare.button_sheet", lang), f"cmp:x:{view.scope}")]
    if context.actor.is_admin:
        last.append(
            (t("compare.button_streets", lang), "cmp:f") if street_id is None
            else (t("compare.button_district", lang), "cmp:h:-")
        )  # fmt: skip
    rows.append(last)
    return text, keyboard(rows)


def overview_text(comparison: Comparison, plan: Plan, lang: Language, *, title: str) -> str:
    """The counts as a message: sources and when they were imported, each blind spot, and
    for the district each street with any."""
    lines = [title, "", t("compare.sources", lang)]
    for source in SOURCES:
        at = comparison.imports[source]
        label = t(f"compare.source.{source}", lang)
        lines.append(
            t("compare.source_never", lang, source=label) if at is None
            else t("compare.source_imported", lang, source=label,
                   date=full_date(at.astimezone(plan.zone).date(), lang))
        )  # fmt: skip
    lines += ["", t("compare.spots", lang)]
    total = comparison.total
    floor = plan.targets.unionise_100_plus.min_headcount
    for spot in BlindSpot:
        lines.append(
            t("compare.count_line", lang, label=spot_label(spot, plan, lang),
              count=number(total[spot]))
        )  # fmt: skip
        if spot is BlindSpot.UNORGANISED_100 and total.hidden_by_tax:
            lines.append(t("compare.hidden", lang, count=number(total.hidden_by_tax), floor=floor))
    streets = [row for row in comparison.by_street if row[2].any]
    if not total.any:
        lines += ["", t("compare.no_spots", lang)]
    elif streets:
        legend = " · ".join(t(f"compare.short.{spot.value}", lang) for spot in BlindSpot)
        lines += ["", t("compare.streets", lang, legend=legend)]
        lines += [_street_line(name, counts, lang) for _, name, counts in streets]
    lines += ["", t("compare.choose", lang)]
    return "\n".join(lines)


def _street_line(name: str | None, counts: SpotCounts, lang: Language) -> str:
    street = esc(name) if name else t("compare.street_unknown", lang)
    figures = " · ".join(number(counts[spot]) for spot in BlindSpot)
    return t("compare.street_line", lang, street=street, counts=figures)


def spot_label(spot: BlindSpot, plan: Plan, lang: Language) -> str:
    ratio = percent(plan.comparison.low_membership_ratio)
    return t(f"compare.spot.{spot.value}", lang, percent=ratio)


async def _choose_street(update: Update, context: BotContext) -> None:
    lang = context.lang
    async with context.db.session() as session:
        names = await street_ids(session=session)
    buttons = [(esc(name), f"cmp:h:{id_}") for name, id_ in names.items()]
    rows = grid(buttons, 3)
    rows.append([(t("button.back", lang), "cmp:h:-")])
    await edit(update, t("compare.choose_street", lang), keyboard(rows))


# --- a blind spot's units -------------------------------------------------------------------


async def _show_page(update: Update, context: BotContext, view: View) -> None:
    lang, plan = context.lang, context.plan
    async with context.db.session() as session:
        page = await spot_page(
            session=session, plan=plan, spot=view.spot, street_id=view.street_id,
            page=view.page,
        )  # fmt: skip
        scope = None if view.street_id is None else await street_scope(
            session=session, street_id=view.street_id)  # fmt: skip
    view = View(view.street_id, view.spot, page.page)
    scope_name = t("compare.district", lang) if scope is None else esc(scope.street_name)
    text = page_text(page, plan, lang, scope=scope_name, with_street=view.street_id is None)
    prefix = "cmp:o" if view.spot in SOURCE_OF else "cmp:u"  # no unit card without a unit
    tail = f"{view.scope}:{CODE_OF[view.spot]}:{page.page}"
    rows = grid(
        [(str(n), f"{prefix}:{line.unit_id or line.source_unit_id}:{tail}")
         for n, line in enumerate(page.lines, 1)], 4,
    )  # fmt: skip
    pager: list[Button] = []
    if page.page > 0:
        pager.append((t("button.prev", lang), view.list_data(page.page - 1)))
    if page.page + 1 < page.pages:
        pager.append((t("button.next", lang), view.list_data(page.page + 1)))
    rows += [pager, [(t("button.back", lang), view.home)]]
    await edit(update, text, keyboard([r for r in rows if r]))


def page_text(page: SpotPage, plan: Plan, lang: Language, *, scope: str, with_street: bool) -> str:
    lines = [
        t("compare.list_title", lang, scope=scope, label=spot_label(page.spot, plan, lang),
          total=number(page.total)),
        "",
    ]  # fmt: skip
    if not page.lines:
        lines.append(t("compare.empty", lang))
    for n, line in enumerate(page.lines, 1):
        lines.append(line_text(n, line, plan, lang, with_street=with_street))
    if page.lines:
        lines += ["", t("compare.page", lang, page=page.page + 1, pages=page.pages)]
    return "\n".join(lines)


def line_text(n: int, line: SpotLine, plan: Plan, lang: Language, *, with_street: bool) -> str:
    street = ""
    if with_street:
        name = esc(line.street_name) if line.street_name else t("compare.street_unknown", lang)
        street = t("compare.street_suffix", lang, street=name)
    social = line.social_headcount
    share = line.membership
    hidden = line.spot is BlindSpot.UNORGANISED_100 and line.hidden_by_tax(plan)
    return t(
        f"compare.line.{line.spot.value}", lang, n=n, name=esc(line.name), street=street,
        tax=number(line.tax_headcount or 0),
        social=t("compare.social_none", lang) if social is None else number(social),
        members=number(line.member_count or 0), headcount=number(line.headcount),
        share="" if share is None else f"{float(share) * 100:.0f}",
        hidden=t("compare.hidden_mark", lang) if hidden else "",
    )  # fmt: skip


# --- cards ------------------------------------------------------------------------------------


async def _show_unit(update: Update, context: BotContext, view: View, unit_id: int) -> None:
    query, lang, plan = update.callback_query, context.lang, context.plan
    assert query is not None
    async with context.db.session() as session:
        card = await unit_card(session=session, plan=plan, unit_id=unit_id)
    if card is None:
        await query.answer(t("compare.missing", lang), show_alert=True)
        return
    if not _in_view(context, view, card.street_id):
        await query.answer(t("compare.refused", lang), show_alert=True)
        return
    await query.answer()
    back = [(t("button.back", lang), view.list_data())]
    await edit(update, card_text(card, lang, plan.zone), keyboard([back]))


async def _show_source(update: Update, context: BotContext, view: View, row_id: int) -> None:
    query, lang = update.callback_query, context.lang
    assert query is not None
    async with context.db.session() as session:
        card = await source_card(session=session, source_unit_id=row_id)
    if card is None:
        await query.answer(t("compare.missing", lang), show_alert=True)
        return
    if not _in_view(context, view, card.street_id):
        await query.answer(t("compare.refused", lang), show_alert=True)
        return
    await query.answer()
    back = [(t("button.back", lang), view.list_data())]
    await edit(update, source_text(card, context.plan, lang), keyboard([back]))


def _in_view(context: BotContext, view: View, street_id: int | None) -> bool:
    """A card opens from a list of its own street (or the district's), for who may see it."""
    if view.street_id is not None and street_id != view.street_id:
        return False
    return _may(context, street_id) if street_id is not None else context.actor.is_admin


def source_text(card: SourceCard, plan: Plan, lang: Language) -> str:
    street = esc(card.street_name) if card.street_name else t("compare.street_unknown", lang)
    return "\n".join([
        t("compare.card.title", lang, name=esc(card.name)),
        t("compare.card.code", lang, code=esc(card.credit_code)),
        t("compare.card.street", lang, street=street),
        t(f"compare.card.{card.source}", lang, headcount=number(card.headcount)),
        t("compare.card.imported", lang, file=esc(card.file_name),
          date=full_date(card.imported_at.astimezone(plan.zone).date(), lang)),
        "",
        t(f"compare.card.note_{card.source}", lang),
    ])  # fmt: skip


# --- the spreadsheet ------------------------------------------------------------------------


async def _send_sheets(update: Update, context: BotContext, street_id: int | None) -> None:
    chat, lang, plan = update.effective_chat, context.lang, context.plan
    assert chat is not None
    async with context.db.session() as session:
        sheets = await comparison_sheets(session=session, plan=plan, street_id=street_id)
        scope = None if street_id is None else await street_scope(session=session,
                                                                   street_id=street_id)  # fmt: skip
    out = io.BytesIO()
    # openpyxl is plain CPU work: off the event loop, so other chats are not kept waiting.
    await asyncio.to_thread(write_xlsx, sheets, lang=lang, zone=plan.zone, out=out)
    scope_name = t("compare.district", lang) if scope is None else scope.street_name or ""
    today = context.bot_data.clock.today()
    await context.bot.send_document(
        chat.id,
        InputFile(out.getvalue(), filename=t("compare.file_name", lang, scope=scope_name,
                                             date=today.isoformat())),
        caption=t("compare.file_caption", lang, scope=esc(scope_name),
                  date=full_date(today, lang)),
    )  # fmt: skip
