"""From a status message to the units behind it: a filtered, paged list and each unit's
card, all in the same message (every press edits it; nothing floods the chat).

Callback data, at most 64 bytes, parsed strictly ("-" for no filter):
  "ul:<o>:<street>:<band>:<tier>:<zone>:<stage>:<page>"  the list
  "uf:<dim>:<same seven fields>"                          choose a filter
  "uc:<unit>:<same seven fields>"                          a unit's card, back to that list
where <o> is the status it came from (d: district, s: the street), bands, tiers and stages
are indexes into the plan's and the ledger's orders, and street and zone are ids.
Every press re-checks that the presser may see that street's units.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from telegram import Update

from bot.context import BotContext
from bot.texts import t
from handlers.common import Button, edit, esc, grid, keyboard
from handlers.status_view import card_text, stage_label, units_text
from models.chats import Scope
from models.enums import Language, LedgerStage
from models.geography import street_ids, zone_ids
from models.plan import Plan
from models.units import UnitFilter, can_see_units, remaining_units, unit_card

_FIELD = r"(?:-|\d{1,6})"
_STATE = rf"[ds]:{_FIELD}:{_FIELD}:{_FIELD}:{_FIELD}:{_FIELD}:\d{{1,4}}"
LIST_CALLBACK = rf"^ul:{_STATE}$"
FILTER_CALLBACK = rf"^uf:(street|band|tier|zone|stage):{_STATE}$"
CARD_CALLBACK = rf"^uc:\d{{1,9}}:{_STATE}$"
STAGES = list(LedgerStage)
DIMENSIONS = ("band", "tier", "zone", "stage")
FILTER_FIELDS = {
    "street": "street_id",
    "band": "band",
    "tier": "tier",
    "zone": "zone_id",
    "stage": "stage",
}


@dataclass(frozen=True)
class ListState:
    origin: str  # "d" or "s": which status "back" returns to
    where: UnitFilter
    page: int = 0

    def encode(self, plan: Plan) -> str:
        w = self.where

        def index(value: object, order: list[object]) -> str:
            return "-" if value is None else str(order.index(value))

        return ":".join(
            [
                self.origin,
                "-" if w.street_id is None else str(w.street_id),
                index(w.band, [b.key for b in plan.size_bands]),
                index(w.tier, [r.key for r in plan.responsibility_tiers]),
                "-" if w.zone_id is None else str(w.zone_id),
                index(w.stage, list(STAGES)),
                str(self.page),
            ]
        )

    @classmethod
    def decode(cls, fields: list[str], plan: Plan) -> ListState | None:
        """None for anything out of range: a forged or outdated button."""
        origin, street, band, tier, zone, stage, page = fields

        def pick(value: str, order: list[str]) -> str | None:
            return None if value == "-" else order[int(value)]

        try:
            where = UnitFilter(
                street_id=None if street == "-" else int(street),
                band=pick(band, [b.key for b in plan.size_bands]),
                tier=pick(tier, [r.key for r in plan.responsibility_tiers]),
                zone_id=None if zone == "-" else int(zone),
                stage=None if stage == "-" else STAGES[int(stage)],
            )
        except IndexError:
            return None
        return cls(origin, where, int(page))

    @property
    def home(self) -> str:
        """The status this list belongs to."""
        if self.origin == "s" and self.where.street_id is not None:
            return f"st:s:{self.where.street_id}"
        return "st:d"


def list_button(scope: Scope) -> str:
    origin = "d" if scope.is_district else "s"
    street = "-" if scope.street_id is None else str(scope.street_id)
    return f"ul:{origin}:{street}:-:-:-:-:0"


async def _pressed_state(update: Update, context: BotContext, skip: int) -> ListState | None:
    """The list state carried by the pressed button, if the presser may see it."""
    query = update.callback_query
    assert query is not None and query.data is not None
    state = ListState.decode(query.data.split(":")[skip:], context.plan)
    actor = context.actor
    if state is None or not can_see_units(
        role=actor.role, own_street_id=actor.street_id, street_id=state.where.street_id
    ):
        await query.answer(t("units.refused", context.lang), show_alert=True)
        return None
    return state


async def list_pressed(update: Update, context: BotContext) -> None:
    state = await _pressed_state(update, context, skip=1)
    if state is None:
        return
    assert update.callback_query is not None
    await update.callback_query.answer()
    await show_list(update, context, state)


async def show_list(update: Update, context: BotContext, state: ListState) -> None:
    lang, plan = context.lang, context.plan
    async with context.db.session() as session:
        page = await remaining_units(session=session, plan=plan, where=state.where, page=state.page)
        streets = {v: k for k, v in (await street_ids(session=session)).items()}
        zones = {v: k for k, v in (await zone_ids(session=session)).items()}
    state = replace(state, page=page.page)
    street = streets.get(state.where.street_id or 0)
    title = (
        t("units.title_street", lang, street=esc(street), total=page.total)
        if street
        else t("units.title_district", lang, total=page.total)
    )
    text = units_text(page, title=title, filters=_filter_labels(state, zones, lang), lang=lang)
    rows: list[list[Button]] = grid(
        [(str(n), f"uc:{line.unit_id}:{state.encode(plan)}") for n, line in
         enumerate(page.lines, 1)], 4)  # fmt: skip
    pager: list[Button] = []
    if page.page > 0:
        pager.append((t("button.prev", lang), _list(state, plan, page=page.page - 1)))
    if page.page + 1 < page.pages:
        pager.append((t("button.next", lang), _list(state, plan, page=page.page + 1)))
    rows.append(pager)
    dims = (("street",) if state.origin == "d" else ()) + DIMENSIONS
    rows.append([(t(f"dimension.{d}", lang), f"uf:{d}:{state.encode(plan)}") for d in dims])
    last: list[Button] = [(t("button.back", lang), state.home)]
    if _has_filters(state):
        cleared = ListState(state.origin, UnitFilter(street_id=_fixed_street(state)))
        last.insert(0, (t("button.clear", lang), f"ul:{cleared.encode(plan)}"))
    rows.append(last)
    await edit(update, text, keyboard([r for r in rows if r]))


def _list(state: ListState, plan: Plan, **changes: object) -> str:
    return f"ul:{replace(state, **changes).encode(plan)}"  # type: ignore[arg-type]


def _fixed_street(state: ListState) -> int | None:
    """A street's own list keeps its street whatever the filters."""
    return state.where.street_id if state.origin == "s" else None


def _has_filters(state: ListState) -> bool:
    return state.where != UnitFilter(street_id=_fixed_street(state))


def _filter_labels(state: ListState, zones: dict[int, str], lang: Language) -> list[str]:
    w = state.where
    values = {
        "band": t(f"band.{w.band}", lang) if w.band else None,
        "tier": t(f"tier.{w.tier}", lang) if w.tier else None,
        "zone": esc(zones.get(w.zone_id, "")) if w.zone_id is not None else None,
        "stage": stage_label(w.stage, lang) if w.stage else None,
    }
    return [f"{t(f'dimension.{d}', lang)} {v}" for d, v in values.items() if v]


async def filter_pressed(update: Update, context: BotContext) -> None:
    state = await _pressed_state(update, context, skip=2)
    if state is None:
        return
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    dimension = query.data.split(":")[1]
    lang, plan = context.lang, context.plan
    field = FILTER_FIELDS[dimension]
    choices = [(t("button.all", lang), None), *await _choices(context, dimension)]
    options = [
        (label, replace(state.where, **{field: value}))  # type: ignore[arg-type]
        for label, value in choices
    ]
    buttons = [(label, f"ul:{ListState(state.origin, where).encode(plan)}") for label, where in
               options]  # fmt: skip
    rows = grid(buttons, 3 if dimension == "street" else 2)
    rows.append([(t("button.back", lang), f"ul:{state.encode(plan)}")])
    await edit(update, t("units.choose", lang, dimension=t(f"dimension.{dimension}", lang)),
               keyboard(rows))  # fmt: skip


async def _choices(context: BotContext, dimension: str) -> list[tuple[str, object]]:
    """A filter's values, labelled, in the plan's (or the database's) order."""
    lang, plan = context.lang, context.plan
    if dimension in ("street", "zone"):
        async with context.db.session() as session:
            names = await (street_ids if dimension == "street" else zone_ids)(session=session)
        return [(esc(name), id_) for name, id_ in names.items()]
    if dimension == "band":
        return [(t(f"band.{b.key}", lang), b.key) for b in plan.size_bands]
    if dimension == "tier":
        return [(t(f"tier.{r.key}", lang), r.key) for r in plan.responsibility_tiers]
    return [(stage_label(s, lang), s) for s in STAGES]


async def card_pressed(update: Update, context: BotContext) -> None:
    state = await _pressed_state(update, context, skip=2)
    if state is None:
        return
    query = update.callback_query
    assert query is not None and query.data is not None
    unit_id = int(query.data.split(":")[1])
    lang, actor = context.lang, context.actor
    async with context.db.session() as session:
        card = await unit_card(session=session, plan=context.plan, unit_id=unit_id)
    if card is None:
        await query.answer(t("card.missing", lang), show_alert=True)
        return
    if not can_see_units(role=actor.role, own_street_id=actor.street_id, street_id=card.street_id):
        await query.answer(t("card.refused", lang), show_alert=True)
        return
    await query.answer()
    back = [(t("button.back", lang), f"ul:{state.encode(context.plan)}")]
    await edit(update, card_text(card, lang, context.plan.zone), keyboard([back]))
