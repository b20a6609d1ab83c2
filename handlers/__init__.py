"""Every handler, registered in one place, in the order PTB tries them."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from handlers import (
    binding,
    compare,
    data_import,
    drilldown,
    erasure,
    exports,
    fallback,
    guidance,
    health,
    history,
    invites,
    joining,
    meeting_flow,
    meetings,
    members,
    mine,
    officers,
    outbox,
    reminders,
    reports,
    start,
    status,
    units,
    visits,
    welcome,
)
from handlers.access import gatekeeper


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    # Group -1: the gatekeeper sees every update first and stops those from strangers.
    app.add_handler(TypeHandler(Update, gatekeeper), group=-1)

    # Group 0: features. Within a group the first matching handler wins.
    app.add_handler(CommandHandler("status", status.status_command))
    app.add_handler(CommandHandler("chart", status.chart_command))
    app.add_handler(CallbackQueryHandler(status.show_pressed, pattern=status.SHOW_CALLBACK))
    app.add_handler(CallbackQueryHandler(status.chart_pressed, pattern=status.CHART_CALLBACK))
    app.add_handler(CallbackQueryHandler(drilldown.list_pressed, pattern=drilldown.LIST_CALLBACK))
    app.add_handler(
        CallbackQueryHandler(drilldown.filter_pressed, pattern=drilldown.FILTER_CALLBACK)
    )
    app.add_handler(CallbackQueryHandler(drilldown.card_pressed, pattern=drilldown.CARD_CALLBACK))
    app.add_handler(CommandHandler("compare", compare.compare_command))
    app.add_handler(CallbackQueryHandler(compare.compare_pressed, pattern=compare.COMPARE_CALLBACK))
    app.add_handler(CommandHandler("unit", units.unit_command))
    app.add_handler(CallbackQueryHandler(units.card_pressed, pattern=units.CARD_CALLBACK))
    app.add_handler(CallbackQueryHandler(units.advance_pressed, pattern=units.ADVANCE_CALLBACK))
    app.add_handler(CallbackQueryHandler(units.close_pressed, pattern=units.CLOSE_CALLBACK))
    app.add_handler(CallbackQueryHandler(units.evidence_done, pattern=units.EVIDENCE_CALLBACK))
    app.add_handler(CommandHandler("mine", mine.mine_command))
    app.add_handler(CallbackQueryHandler(mine.mine_pressed, pattern=mine.MINE_CALLBACK))
    app.add_handler(CallbackQueryHandler(mine.visit_pressed, pattern=mine.VISIT_CALLBACK))
    app.add_handler(CommandHandler("visit", visits.visit_command))
    app.add_handler(CallbackQueryHandler(visits.visit_pressed, pattern=visits.VISIT_CALLBACK))
    app.add_handler(CommandHandler("member", members.member_command))
    app.add_handler(CallbackQueryHandler(members.member_pressed, pattern=members.MEMBER_CALLBACK))
    app.add_handler(CallbackQueryHandler(members.import_pressed, pattern=members.IMPORT_CALLBACK))
    app.add_handler(CallbackQueryHandler(data_import.import_pressed, pattern=data_import.CALLBACK))
    app.add_handler(CommandHandler("welcome", welcome.welcome_command))
    app.add_handler(CallbackQueryHandler(welcome.welcome_pressed, pattern=welcome.WELCOME_CALLBACK))
    app.add_handler(CommandHandler("guide", guidance.guide_command))
    app.add_handler(CallbackQueryHandler(guidance.guide_pressed, pattern=guidance.GUIDE_CALLBACK))
    app.add_handler(CommandHandler("report", reports.report_command))
    app.add_handler(CallbackQueryHandler(reports.officer_pressed, pattern=reports.OFFICER_CALLBACK))
    app.add_handler(CallbackQueryHandler(reports.admin_pressed, pattern=reports.ADMIN_CALLBACK))
    app.add_handler(CommandHandler("export", exports.export_command))
    app.add_handler(CallbackQueryHandler(exports.export_pressed, pattern=exports.EXPORT_CALLBACK))
    app.add_handler(CommandHandler("outbox", outbox.outbox_command))
    app.add_handler(CallbackQueryHandler(outbox.outbox_pressed, pattern=outbox.OUTBOX_CALLBACK))
    app.add_handler(CommandHandler("health", health.health_command))
    app.add_handler(CommandHandler("reminders", reminders.reminders_command))
    app.add_handler(
        CallbackQueryHandler(reminders.reminders_pressed, pattern=reminders.REMINDERS_CALLBACK)
    )
    app.add_handler(
        CallbackQueryHandler(reminders.snooze_pressed, pattern=reminders.SNOOZE_CALLBACK)
    )
    app.add_handler(CommandHandler("history", history.history_command))
    app.add_handler(CallbackQueryHandler(history.history_pressed, pattern=history.HISTORY_CALLBACK))
    app.add_handler(CommandHandler("officers", officers.officers_command))
    app.add_handler(
        CallbackQueryHandler(officers.officers_pressed, pattern=officers.OFFICERS_CALLBACK)
    )
    app.add_handler(CommandHandler("erase", erasure.erase_command))
    app.add_handler(CallbackQueryHandler(erasure.erase_pressed, pattern=erasure.ERASE_CALLBACK))
    app.add_handler(CommandHandler("bind", binding.bind_command))
    app.add_handler(CallbackQueryHandler(binding.bind_pressed, pattern=binding.BIND_CALLBACK))
    app.add_handler(CommandHandler("start", start.start))
    app.add_handler(CommandHandler("help", start.help_command))
    app.add_handler(CommandHandler("lang", start.lang_command))
    app.add_handler(CallbackQueryHandler(start.lang_chosen, pattern=start.LANG_CALLBACK))
    app.add_handler(CommandHandler("invite", invites.invite_command))
    app.add_handler(CallbackQueryHandler(invites.role_chosen, pattern=invites.ROLE_CALLBACK))
    app.add_handler(CallbackQueryHandler(invites.street_chosen, pattern=invites.STREET_CALLBACK))
    # Online joining: the only commands and buttons non-officers reach (see access.py).
    app.add_handler(CommandHandler("join", joining.join_command))
    app.add_handler(CommandHandler("stop", joining.stop_command))
    app.add_handler(CallbackQueryHandler(joining.join_pressed, pattern=joining.JOIN_CALLBACK))
    app.add_handler(CommandHandler("joinqr", joining.joinqr_command))
    app.add_handler(CallbackQueryHandler(joining.qr_pressed, pattern=joining.QR_CALLBACK))
    app.add_handler(CallbackQueryHandler(joining.decide_pressed, pattern=joining.DECIDE_CALLBACK))
    app.add_handler(CommandHandler("optout", joining.optout_command))
    app.add_handler(
        MessageHandler(filters.CONTACT & filters.ChatType.PRIVATE, joining.contact_received)
    )

    # Plain questions ("how much is left?") before the catch-all; other text falls through.
    app.add_handler(
        MessageHandler(
            filters.TEXT & ~filters.COMMAND & filters.Regex(status.QUESTION), status.status_question
        )
    )

    app.add_handler(CommandHandler("meeting", meeting_flow.meeting_command))
    app.add_handler(CommandHandler("cancel", meeting_flow.cancel_command))
    app.add_handler(
        CallbackQueryHandler(meeting_flow.flow_pressed, pattern=meeting_flow.FLOW_CALLBACK)
    )
    app.add_handler(CallbackQueryHandler(meetings.card_pressed, pattern=meetings.CARD_CALLBACK))
    app.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & (filters.PHOTO | filters.Document.ALL | filters.Sticker.ALL),
            meeting_flow.file_received,
        )
    )
    # Any other text in a private chat: an answer to /meeting's question, or a whole meeting.
    app.add_handler(
        MessageHandler(
            filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, meetings.private_text
        )
    )

    # Last: whatever no feature claimed.
    app.add_handler(CallbackQueryHandler(fallback.stale_button))
    app.add_handler(MessageHandler(filters.ALL, fallback.unknown_message))
