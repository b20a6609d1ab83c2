"""Closed vocabularies of the domain. Values are stored as these short English strings;
the Chinese terms are in comments and in the texts files."""

from enum import StrEnum


class StreetKind(StrEnum):
    STREET = "street"  # 街道
    TOWN = "town"  # 镇
    TOWNSHIP = "township"  # 乡


class Role(StrEnum):
    DISTRICT_ADMIN = "district_admin"  # 区总工会组织部
    STREET_OFFICER = "street_officer"  # 街道乡镇总工会干部
    COMMUNITY_WORKER = "community_worker"  # 社区(村)/楼宇联合工会


class Language(StrEnum):
    ZH = "zh"
    EN = "en"


class Ownership(StrEnum):
    NON_PUBLIC = "non_public"  # 非公有制
    STATE = "state"  # 国有
    COLLECTIVE = "collective"  # 集体
    PUBLIC_INSTITUTION = "public_institution"  # 事业单位
    GOVERNMENT = "government"  # 机关
    SOCIAL_ORGANISATION = "social_organisation"  # 社会组织


class UnitStatus(StrEnum):
    """Dynamic management (动态管理): a unit that leaves the district leaves the target base."""

    ACTIVE = "active"
    MOVED_OUT = "moved_out"  # 迁出
    CLOSED = "closed"  # 注销


class LedgerStage(StrEnum):
    """Stages of the task ledger (台账), in order."""

    SURVEYED = "surveyed"  # 摸底/走访
    LETTER_ISSUED = "letter_issued"  # 发函《北京市工会组建函》
    APPROVED = "approved"  # 两审两批
    COLLECTED = "collected"  # 会员系统采集
    CERTIFIED = "certified"  # 法人证


class LedgerOutcome(StrEnum):
    OPEN = "open"  # 挂账
    WRITTEN_OFF = "written_off"  # 销账
    OBSTRUCTED = "obstructed"  # 阻挠/拒绝
    DEPARTED = "departed"  # 迁出/注销


class MeetingKind(StrEnum):
    WORKER = "worker"  # 职工沟通会 — counts toward the 12 per street
    ENTERPRISE = "enterprise"  # 企业沟通会
    TAXPAYER = "taxpayer"  # 税户大会
    FACE_TO_FACE = "face_to_face"  # 面对面沟通
    BRIEFING = "briefing"  # 集中宣讲


class VenueType(StrEnum):
    COMMUNITY = "community"  # 社区
    OFFICE_BUILDING = "office_building"  # 楼宇
    SITE = "site"  # 工地
    MARKET = "market"  # 市场
    ENTERPRISE = "enterprise"  # 企业


class VisitKind(StrEnum):
    UNIT = "unit"  # 走访: an officer visits a unit
    GUIDANCE = "guidance"  # 指导: district staff visit a street


class ReportKind(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"


class ChatScope(StrEnum):
    DISTRICT = "district"
    STREET = "street"


class OutboxChannel(StrEnum):
    TELEGRAM = "telegram"
    SMS = "sms"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after retries
    BLOCKED = "blocked"  # the recipient blocked the bot (403): never retried
    MISSED = "missed"  # fell due while the bot was down, past the grace: admins told instead
    CANCELLED = "cancelled"  # the recipient opted out (退订, /stop) before it was sent
