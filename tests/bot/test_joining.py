"""Online joining through the real bot on the demo district: an officer's QR code, a worker's
application by link or /join, the officers' decision, and opting out (/stop, /optout).
Workers are strangers to the bot: they reach the join flow and nothing else. No message the
bot sends ever shows a whole mobile number."""

from __future__ import annotations

import copy
import io
import re
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
import segno
from PIL import Image
from sqlmodel import col, select

from bot.fake_api import JSON, ApiCall, buttons, visible
from bot.harness import Harness, alerts, shown, texts
from bot.texts import t
from models.enums import MeetingKind, OutboxChannel, OutboxStatus
from models.geography import street_ids
from models.meetings import MeetingInput, delete_meeting, save_meeting
from models.members import welcomes_queued
from models.tables import (
    AuditEntry,
    Draft,
    JoinLink,
    Meeting,
    Member,
    MembershipApplication,
    OutboxMessage,
)
from reminders.sender import drain
from tests.conftest import ADMIN_ID, OFFICER_ID, OFFICER_STREET, OTHER_OFFICER_ID, seen

WORKER = 70001
MOBILE = "13812345678"
MASKED = "138****5678"
UNLISTED = "一家没有登记的公司"  # matches no unit of the street
WHOLE_NUMBER = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


# --- helpers ----------------------------------------------------------------------------


@pytest.fixture
async def h(demo_bot: Harness) -> AsyncIterator[Harness]:
    """The demo bot; afterwards, no message it sent (text, caption, alert) showed a whole
    mobile number."""
    yield demo_bot
    for text in every_text(demo_bot.api.calls):
        assert not WHOLE_NUMBER.search(text), text


def every_text(calls: list[ApiCall]) -> list[str]:
    found = []
    for call in calls:
        if call.method in ("sendMessage", "editMessageText", "sendPhoto", "answerCallbackQuery"):
            found += [str(call.params.get(key) or "") for key in ("text", "caption")]
    return found


async def held_meeting(h: Harness, held_on: date, street: str = OFFICER_STREET) -> int:
    async with h.app.bot_data.db.session(write=True) as session:
        street_id = (await street_ids(session=session))[street]
        meeting = await save_meeting(
            session=session,
            meeting=MeetingInput(kind=MeetingKind.WORKER, held_on=held_on, street_id=street_id,
                                 attendees=40, new_members=3, place="苏庄社区活动中心"),
            by_user_id=OFFICER_ID, now=h.app.bot_data.clock.now(),
        )  # fmt: skip
        assert meeting.id is not None
        return meeting.id


async def qr_for_meeting(h: Harness, user_id: int = OFFICER_ID) -> tuple[ApiCall, str]:
    """/joinqr and the first meeting's button: the sendPhoto call and the join link's code."""
    officer = h.api.user(user_id)
    [menu] = shown(await h.send(officer, "/joinqr"))
    calls = await h.press(officer, menu, buttons(menu)[0][1])
    [photo] = [c for c in calls if c.method == "sendPhoto"]
    found = re.search(r"start=join-([A-Za-z0-9_-]+)", photo.result["caption"])
    assert found is not None
    return photo, found.group(1)


async def drain_outbox(h: Harness) -> list[ApiCall]:
    mark = len(h.api.calls)
    data = h.app.bot_data
    await drain(bot=h.app.bot, db=data.db, now=data.clock.now, worker="test")
    return h.api.since(mark)


def sent_to(calls: list[ApiCall], chat_id: int) -> list[JSON]:
    return [
        c.result
        for c in calls
        if c.method == "sendMessage" and c.status == 200 and int(c.params["chat_id"]) == chat_id
    ]


async def one(h: Harness, model: type[Any], *where: Any) -> list[Any]:
    async with h.app.bot_data.db.session() as session:
        return list((await session.exec(select(model).where(*where))).all())


async def apply(
    h: Harness,
    start: str,
    *,
    name: str = "张三",
    unit: str = UNLISTED,
    pick: str | None = None,
    lang: str = "zh",
    user_id: int = WORKER,
) -> list[str]:
    """A worker's whole application up to the summary card, then Submit; their messages."""
    worker = h.api.user(user_id, "张三", language_code=lang)
    seen_texts: list[str] = []
    [intro] = shown(await h.send(worker, start))
    seen_texts.append(visible(intro["text"]))
    calls = await h.press(worker, intro, t("join.consent_yes", lang))
    seen_texts += texts(calls)
    calls = await h.process(h.api.contact_update(user=worker, phone_number=f"+86{MOBILE}",
                                                 user_id=user_id))  # fmt: skip
    seen_texts += texts(calls)
    [question] = shown(await h.send(worker, name))
    seen_texts.append(visible(question["text"]))
    if start == "/join":  # no link: the street is asked
        calls = await h.press(worker, question, OFFICER_STREET)
        seen_texts += texts(calls)
    calls = await h.send(worker, unit)
    [card] = shown(calls)
    seen_texts.append(visible(card["text"]))
    if pick is not None:
        [card] = shown(await h.press(worker, card, pick))
        seen_texts.append(visible(card["text"]))
    calls = await h.press(worker, card, t("join.submit", lang))
    seen_texts += texts(calls)
    return seen_texts


# --- /joinqr ----------------------------------------------------------------------------


async def test_an_officer_gets_a_qr_code_of_the_join_link_for_a_meeting(h: Harness) -> None:
    meeting_id = await held_meeting(h, date(2018, 3, 10))
    await held_meeting(h, date(2018, 1, 10))  # older than 30 days: not offered
    officer = h.api.user(OFFICER_ID)
    [menu] = shown(await h.send(officer, "/joinqr"))
    labels = [label for label, _ in buttons(menu)]
    assert labels == ["3月10日 职工沟通会 苏庄社区活动中心", t("join.qr_no_meeting", "zh")]

    calls = await h.press(officer, menu, labels[0])
    [photo] = [c for c in calls if c.method == "sendPhoto"]
    [link] = await one(h, JoinLink, JoinLink.meeting_id == meeting_id)
    url = f"https://t.me/{h.api.username}?start=join-{link.code}"
    assert link.expires_at - link.created_at == timedelta(days=7)
    expires = f"{link.expires_at.astimezone(h.app.bot_data.plan.zone):%Y-%m-%d %H:%M}"
    assert photo.result["caption"] == seen(
        "join.qr_caption", street=OFFICER_STREET, meeting="3月10日 职工沟通会 苏庄社区活动中心",
        expires_at=expires, link=url,
    )  # fmt: skip
    # The uploaded PNG is the QR code of that link, module for module.
    image = Image.open(io.BytesIO(photo.files["photo"])).convert("L")
    code = segno.make(url, error="m", micro=False)
    side = int(code.symbol_size(border=4)[0])
    scale, width = image.size[0] // side, image.size[0]
    assert image.size == (side * scale, side * scale) and 300 <= width <= 1000
    pixels, centre = image.tobytes(), scale // 2
    read = [[pixels[(y * scale + centre) * width + x * scale + centre] < 128
             for x in range(side)] for y in range(side)]  # fmt: skip
    assert read == [[bool(v) for v in row] for row in code.matrix_iter(scale=1, border=4)]
    assert await one(h, AuditEntry, AuditEntry.action == "joinlink.create")

    # One link per meeting: asking again shows the same code.
    _, again = await qr_for_meeting(h)
    assert again == link.code


async def test_a_meeting_with_a_join_link_can_still_be_deleted(h: Harness) -> None:
    meeting_id = await held_meeting(h, date(2018, 3, 10))
    _, code = await qr_for_meeting(h)
    await apply(h, f"/start join-{code}")
    async with h.app.bot_data.db.session(write=True) as session:
        assert await delete_meeting(session=session, meeting_id=meeting_id, by_user_id=OFFICER_ID,
                                    now=h.app.bot_data.clock.now())  # fmt: skip
    [link] = await one(h, JoinLink)
    [application] = await one(h, MembershipApplication)
    assert link.meeting_id is None and application.meeting_id is None


async def test_an_admin_picks_the_street_first(h: Harness) -> None:
    admin = h.api.user(ADMIN_ID)
    [menu] = shown(await h.send(admin, "/joinqr"))
    assert visible(menu["text"]) == seen("join.qr_choose_street")
    [page] = shown(await h.press(admin, menu, "良乡镇"))
    assert visible(page["text"]) == seen("join.qr_no_recent", street="良乡镇")
    calls = await h.press(admin, page, t("join.qr_no_meeting", "zh"))
    [photo] = [c for c in calls if c.method == "sendPhoto"]
    assert "良乡镇" in photo.result["caption"]
    [link] = await one(h, JoinLink)
    assert link.meeting_id is None


async def test_an_officer_cannot_make_a_code_for_another_street(h: Harness) -> None:
    admin = h.api.user(ADMIN_ID)
    [menu] = shown(await h.send(admin, "/joinqr"))
    [page] = shown(await h.press(admin, menu, "良乡镇"))
    calls = await h.press(h.api.user(OFFICER_ID), page, t("join.qr_no_meeting", "zh"))
    assert alerts(calls) == [t("join.qr_refused", "zh")]
    assert await one(h, JoinLink) == []


# --- applying and deciding --------------------------------------------------------------


async def test_an_online_join_approved_end_to_end(h: Harness) -> None:
    meeting_id = await held_meeting(h, date(2018, 3, 10))
    _, code = await qr_for_meeting(h)
    said = await apply(h, f"/start join-{code}", unit="祥茂教育", pick="北京祥茂教育咨询有限公司")
    assert said[-1] == seen("join.submitted", union="拱辰街道总工会")
    assert seen("join.contact_ok", mobile=MASKED) in said
    summary = seen(
        "join.summary", name="张三", mobile=MASKED, unit="北京祥茂教育咨询有限公司",
        street=OFFICER_STREET, meeting="3月10日 职工沟通会 苏庄社区活动中心",
    )  # fmt: skip
    assert summary in said
    [application] = await one(h, MembershipApplication)
    assert (application.telegram_user_id, application.mobile, application.status) == (
        WORKER, MOBILE, "pending",
    )  # fmt: skip
    assert application.unit_id is not None and application.meeting_id == meeting_id
    assert await one(h, Draft, Draft.user_id == WORKER) == []

    # The street's officer hears of it in their private chat (only they: not 良乡镇's).
    calls = await drain_outbox(h)
    [notice] = sent_to(calls, OFFICER_ID)
    assert sent_to(calls, OTHER_OFFICER_ID) == [] and sent_to(calls, WORKER) == []
    assert MASKED in notice["text"] and "张三" in notice["text"]
    assert [label for label, _ in buttons(notice)] == [t("join.approve", "zh"),
                                                        t("join.reject", "zh")]  # fmt: skip

    calls = await h.press(h.api.user(OFFICER_ID, "李干事"), notice, t("join.approve", "zh"))
    [decided] = shown(calls)
    assert decided["text"].endswith(seen("join.decided_approved", by="李干事"))
    assert buttons(decided) == []
    [member] = await one(h, Member, Member.mobile == MOBILE)
    assert (member.telegram_user_id, member.meeting_id, member.source) == (
        WORKER, meeting_id, "online",
    )  # fmt: skip
    assert member.unit_id == application.unit_id
    [application] = await one(h, MembershipApplication)
    assert (application.status, application.decided_by, application.member_id) == (
        "approved", OFFICER_ID, member.id,
    )  # fmt: skip
    assert member.id is not None
    async with h.app.bot_data.db.session() as session:
        welcomes = await welcomes_queued(session=session, member_id=member.id)
        meeting = await session.get(Meeting, meeting_id)
    assert {w.channel for w in welcomes} == {OutboxChannel.SMS, OutboxChannel.TELEGRAM}
    assert meeting is not None and meeting.new_members == 4  # 3 logged + 1 online
    actions = {a.action for a in await one(h, AuditEntry)}
    assert {"application.submit", "application.approve", "member.register",
            "meeting.new_member"} <= actions  # fmt: skip

    # The applicant hears the outcome, then the welcome.
    calls = await drain_outbox(h)
    to_worker = [visible(m["text"]) for m in sent_to(calls, WORKER)]
    assert to_worker[0] == seen("join.outcome_approved", union="拱辰街道总工会")
    assert len(to_worker) == 2 and "拱辰街道总工会" in to_worker[1]


async def test_a_rejected_applicant_is_told_politely_and_nothing_is_registered(
    h: Harness,
) -> None:
    await apply(h, "/join")
    [notice] = sent_to(await drain_outbox(h), OFFICER_ID)
    calls = await h.press(h.api.user(OFFICER_ID, "李干事"), notice, t("join.reject", "zh"))
    assert shown(calls)[0]["text"].endswith(seen("join.decided_rejected", by="李干事"))
    [application] = await one(h, MembershipApplication)
    assert application.status == "rejected" and application.unit_id is None
    assert application.unit_name == UNLISTED and application.meeting_id is None
    assert await one(h, Member, Member.mobile == MOBILE) == []
    to_worker = [visible(m["text"]) for m in sent_to(await drain_outbox(h), WORKER)]
    assert to_worker == [seen("join.outcome_rejected", union="拱辰街道总工会")]
    assert await one(h, AuditEntry, AuditEntry.action == "application.reject")


async def test_a_second_press_says_who_decided_and_changes_nothing(h: Harness) -> None:
    await apply(h, "/join")
    [notice] = sent_to(await drain_outbox(h), OFFICER_ID)
    before = copy.deepcopy(notice)  # as another device still shows it, buttons and all
    officer = h.api.user(OFFICER_ID, "李干事")
    await h.press(officer, notice, t("join.approve", "zh"))
    # The admin's press on the same notice, or the officer's again: already decided.
    [application] = await one(h, MembershipApplication)
    assert application.status == "approved" and application.decided_at is not None
    at = f"{application.decided_at.astimezone(h.app.bot_data.plan.zone):%Y-%m-%d %H:%M}"
    what = t("join.status_approved", "zh")
    for presser in (h.api.user(ADMIN_ID), officer):
        calls = await h.press(presser, before, t("join.reject", "zh"))
        # The decider by the name they were invited with (the demo's "干部20001").
        assert alerts(calls) == [t("join.already_decided", "zh", by="干部20001", at=at, what=what)]
    assert visible(notice["text"]).endswith(
        seen("join.decided_before", by="干部20001", at=at, what=what)
    )
    [application] = await one(h, MembershipApplication)
    assert application.status == "approved"
    assert len(await one(h, Member, Member.mobile == MOBILE)) == 1
    assert len(await one(h, AuditEntry, AuditEntry.action == "application.approve")) == 1


async def test_another_streets_officer_cannot_decide(h: Harness) -> None:
    await apply(h, "/join")
    [notice] = sent_to(await drain_outbox(h), OFFICER_ID)
    calls = await h.press(h.api.user(OTHER_OFFICER_ID), notice, t("join.approve", "zh"))
    assert alerts(calls) == [t("join.not_yours", "zh", street=OFFICER_STREET)]
    [application] = await one(h, MembershipApplication)
    assert application.status == "pending"
    # A worker pressing it is refused at the gate.
    calls = await h.press(h.api.user(WORKER), notice, t("join.approve", "zh"))
    assert alerts(calls) == [t("access.refused_short", "zh")]


async def test_an_applicant_in_english_hears_the_outcome_in_english(h: Harness) -> None:
    said = await apply(h, "/join", lang="en")
    assert said[-1] == seen("join.submitted", "en", union="拱辰街道总工会")
    [notice] = sent_to(await drain_outbox(h), OFFICER_ID)
    assert visible(notice["text"]).startswith(seen("join.notice", name="", mobile="", unit="",
                                                   street="", meeting="", at="")[:6])  # fmt: skip
    await h.press(h.api.user(OFFICER_ID), notice, t("join.reject", "zh"))
    to_worker = [visible(m["text"]) for m in sent_to(await drain_outbox(h), WORKER)]
    assert to_worker == [seen("join.outcome_rejected", "en", union="拱辰街道总工会")]


async def test_an_officer_may_apply_too(h: Harness) -> None:
    # Their answers come through the handlers every officer's messages go to, not the gate.
    said = await apply(h, "/join", user_id=OTHER_OFFICER_ID, name="王五")
    assert said[-1] == seen("join.submitted", union="拱辰街道总工会")
    [application] = await one(h, MembershipApplication)
    assert application.telegram_user_id == OTHER_OFFICER_ID and application.name == "王五"


async def test_join_without_a_link_asks_the_street(h: Harness) -> None:
    said = await apply(h, "/join", unit="祥茂教育", pick=t("join.keep_unit", "zh", unit="祥茂教育"))
    assert seen("join.ask_street") in said
    [application] = await one(h, MembershipApplication)
    assert application.unit_id is None and application.unit_name == "祥茂教育"


async def test_a_member_or_a_pending_applicant_is_told_and_nothing_is_written(
    h: Harness,
) -> None:
    await apply(h, "/join")
    worker = h.api.user(WORKER)
    assert texts(await h.send(worker, "/join")) == [seen("join.refused_pending")]
    # Someone else with a number that is a member already: told after sharing it.
    other = h.api.user(WORKER + 1)
    [notice] = sent_to(await drain_outbox(h), OFFICER_ID)
    await h.press(h.api.user(OFFICER_ID), notice, t("join.approve", "zh"))
    [intro] = shown(await h.send(other, "/join"))
    await h.press(other, intro, t("join.consent_yes", "zh"))
    calls = await h.process(h.api.contact_update(user=other, phone_number=MOBILE,
                                                 user_id=WORKER + 1))  # fmt: skip
    assert texts(calls) == [seen("join.refused_member")]
    assert await one(h, Draft, Draft.user_id == WORKER + 1) == []
    assert len(await one(h, MembershipApplication)) == 1
    assert texts(await h.send(worker, "/join")) == [seen("join.refused_member")]


# --- refusals on the way ----------------------------------------------------------------


async def test_someone_elses_contact_is_refused(h: Harness) -> None:
    worker = h.api.user(WORKER)
    [intro] = shown(await h.send(worker, "/join"))
    await h.press(worker, intro, t("join.consent_yes", "zh"))
    for user_id in (WORKER + 5, None):
        calls = await h.process(
            h.api.contact_update(user=worker, phone_number="13900001111", user_id=user_id)
        )
        assert texts(calls) == [seen("join.contact_not_own")]
        assert calls[-1].params["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    # A typed number is not taken either; a foreign number is refused.
    assert texts(await h.send(worker, "13900001111")) == [seen("join.contact_use_button")]
    calls = await h.process(
        h.api.contact_update(user=worker, phone_number="+1 202 555 0100", user_id=WORKER)
    )
    assert texts(calls) == [seen("join.contact_not_mainland")]
    [draft] = await one(h, Draft, Draft.user_id == WORKER)
    assert draft.payload["step"] == "contact" and "mobile" not in draft.payload


async def test_without_consent_nothing_is_stored(h: Harness) -> None:
    worker = h.api.user(WORKER)
    [intro] = shown(await h.send(worker, "/join"))
    assert "姓名" in intro["text"] and "手机号" in intro["text"] and "单位" in intro["text"]
    assert await one(h, Draft, Draft.user_id == WORKER) == []
    [answer] = shown(await h.press(worker, intro, t("join.consent_no", "zh")))
    assert visible(answer["text"]) == seen("join.declined")
    assert await one(h, Draft, Draft.user_id == WORKER) == []
    assert await one(h, MembershipApplication) == []
    # And what they type afterwards is refused like any stranger's message.
    assert texts(await h.send(worker, "张三")) == [t("access.refused", "zh")]


async def test_cancelling_midway_deletes_what_was_entered(h: Harness) -> None:
    worker = h.api.user(WORKER)
    [intro] = shown(await h.send(worker, "/join"))
    await h.press(worker, intro, t("join.consent_yes", "zh"))
    await h.process(h.api.contact_update(user=worker, phone_number=MOBILE, user_id=WORKER))
    [question] = shown(await h.send(worker, "张三"))
    [done] = shown(await h.press(worker, question, t("button.cancel", "zh")))
    assert visible(done["text"]) == seen("join.cancelled")
    assert await one(h, Draft, Draft.user_id == WORKER) == []


async def test_an_unknown_or_expired_code_is_refused_clearly(h: Harness) -> None:
    worker = h.api.user(WORKER)
    assert texts(await h.send(worker, "/start join-NoSuchCode")) == [seen("join.link_unknown")]
    _, code = await qr_for_meeting(h)
    [intro] = shown(await h.send(worker, f"/start join-{code}"))
    async with h.app.bot_data.db.session(write=True) as session:
        link = (await session.exec(select(JoinLink).where(JoinLink.code == code))).one()
        link.expires_at = h.app.bot_data.clock.now() - timedelta(minutes=1)
        session.add(link)
    expired = f"{link.expires_at.astimezone(h.app.bot_data.plan.zone):%Y-%m-%d %H:%M}"
    assert texts(await h.send(worker, f"/start join-{code}")) == [
        seen("join.link_expired", expired_at=expired)
    ]
    # Consent pressed on the card shown before it expired: nothing starts.
    [answer] = shown(await h.press(worker, intro, t("join.consent_yes", "zh")))
    assert visible(answer["text"]) == seen("join.link_expired_short")
    assert await one(h, Draft, Draft.user_id == WORKER) == []


@pytest.mark.parametrize(
    "text",
    ["/help", "/status", "/meeting", "/joinqr", "/optout 13812345678", "/cancel", "/unit 祥茂",
     "/report", "/invite", "进度"],
)  # fmt: skip
async def test_a_worker_reaches_nothing_but_the_join_flow(h: Harness, text: str) -> None:
    worker = h.api.user(WORKER)
    assert texts(await h.send(worker, text)) == [t("access.refused", "zh")]
    # Not even with an application open: commands are refused, text is the next answer.
    [intro] = shown(await h.send(worker, "/join"))
    await h.press(worker, intro, t("join.consent_yes", "zh"))
    await h.process(h.api.contact_update(user=worker, phone_number=MOBILE, user_id=WORKER))
    replies = texts(await h.send(worker, text))
    if text.startswith("/"):
        assert replies == [t("access.refused", "zh")]
    else:
        assert replies == [seen("join.ask_street")]  # "进度" is taken as the name
    assert "/join" in t("access.refused", "zh")


async def test_in_a_group_join_and_stop_are_refused_to_strangers(h: Harness) -> None:
    group = h.api.group_chat(-100555)
    for text in (f"/join@{h.api.username}", f"/stop@{h.api.username}"):
        assert texts(await h.send(h.api.user(WORKER), text, chat=group)) == [
            t("access.refused", "zh")
        ]


# --- opting out -------------------------------------------------------------------------


async def approved_member(h: Harness) -> Member:
    await apply(h, "/join")
    [notice] = sent_to(await drain_outbox(h), OFFICER_ID)
    await h.press(h.api.user(OFFICER_ID), notice, t("join.approve", "zh"))
    [member] = await one(h, Member, Member.mobile == MOBILE)
    return member


async def test_stop_opts_the_member_out_and_cancels_what_was_pending(h: Harness) -> None:
    member = await approved_member(h)
    pending = await one(
        h, OutboxMessage, OutboxMessage.status == OutboxStatus.PENDING,
        col(OutboxMessage.recipient).in_([str(WORKER), MOBILE]),
    )  # fmt: skip
    assert {(p.channel, p.recipient) for p in pending} == {
        (OutboxChannel.TELEGRAM, str(WORKER)), (OutboxChannel.SMS, MOBILE),
    }  # fmt: skip
    replies = texts(await h.send(h.api.user(WORKER), "/stop"))
    assert replies == [seen("optout.stopped", mobile=MASKED, cancelled=len(pending))]
    [member] = await one(h, Member, Member.id == member.id)
    assert member.opted_out_at is not None
    rows = await one(h, OutboxMessage, col(OutboxMessage.kind).in_(["welcome", "join.outcome"]))
    assert {r.status for r in rows} == {OutboxStatus.CANCELLED}
    assert sent_to(await drain_outbox(h), WORKER) == []
    [entry] = await one(h, AuditEntry, AuditEntry.action == "member.opt_out")
    assert entry.after is not None and entry.after["via"] == "telegram"
    assert "mobile" not in entry.after and "name" not in entry.after  # never in the audit log
    at = f"{member.opted_out_at.astimezone(h.app.bot_data.plan.zone):%Y-%m-%d %H:%M}"
    assert texts(await h.send(h.api.user(WORKER), "/stop")) == [
        seen("optout.stopped_before", at=at)
    ]


async def test_stop_from_someone_who_is_no_member(h: Harness) -> None:
    assert texts(await h.send(h.api.user(WORKER), "/stop")) == [seen("optout.not_member")]
    assert await one(h, AuditEntry, AuditEntry.action == "member.opt_out") == []


async def test_an_admin_records_an_sms_opt_out(h: Harness) -> None:
    member = await approved_member(h)
    admin = h.api.user(ADMIN_ID)
    assert texts(await h.send(admin, "/optout")) == [seen("optout.usage")]
    assert texts(await h.send(admin, "/optout 12345")) == [
        f"{seen('optout.bad_number')}\n{seen('optout.usage')}"
    ]
    [reply] = texts(await h.send(admin, "/optout +86 138-1234-5678"))
    assert reply == seen("optout.done", mobile=MASKED, name="张三", cancelled=3)
    [member] = await one(h, Member, Member.id == member.id)
    assert member.opted_out_at is not None
    pending = await one(h, OutboxMessage, OutboxMessage.status == OutboxStatus.PENDING)
    assert [p for p in pending if p.recipient in (MOBILE, str(WORKER))] == []
    [entry] = await one(h, AuditEntry, AuditEntry.action == "member.opt_out")
    assert entry.actor_user_id == ADMIN_ID and entry.after and entry.after["via"] == "sms"
    # A number no member has: pending messages to it are cancelled all the same.
    [reply] = texts(await h.send(admin, "/optout 13900001111"))
    assert reply == seen("optout.no_member", mobile="139****1111", cancelled=0)


async def test_only_admins_record_opt_outs(h: Harness) -> None:
    member = await approved_member(h)
    replies = texts(await h.send(h.api.user(OFFICER_ID), f"/optout {MOBILE}"))
    assert replies == [t("access.admin_only", "zh")]
    [member] = await one(h, Member, Member.id == member.id)
    assert member.opted_out_at is None
