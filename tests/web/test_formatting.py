"""What the console says, without a server: SLA words, times, refusals, the timeline's
steps and gaps, where sign-in may lead back to, and the form token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from api.web.formatting import ahead, refusal_text, shanghai, sla, span, steps, who_did
from api.web.session import csrf_token, safe_next
from core.config import Settings
from core.i18n import language

EN = language("en")
ZH = language("zh_CN")

NOW = datetime(2025, 3, 1, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=30), "<1 min"),
        (timedelta(minutes=45), "45 min"),
        (timedelta(hours=3, minutes=59), "3 h"),
        (timedelta(hours=26), "1 d"),
        (timedelta(days=3, hours=5), "3 d"),
        (-timedelta(hours=2), "2 h"),
    ],
)
def test_a_span_reads_at_a_glance(delta: timedelta, text: str) -> None:
    assert span(delta, lang=EN) == text


@pytest.mark.parametrize(
    ("status", "due", "level", "text", "state"),
    [
        ("open", timedelta(hours=3, minutes=10), 0, "due in 3 h", "soon"),
        ("claimed", timedelta(hours=20), 0, "due in 20 h", "ok"),
        ("open", -timedelta(hours=30), 0, "overdue by 1 d", "overdue"),
        ("open", -timedelta(hours=3), 1, "escalated · overdue by 3 h", "escalated"),
        ("open", timedelta(hours=5), 2, "escalated (level 2) · due in 5 h", "escalated"),
        ("done", -timedelta(days=4), 1, "done", "closed"),
    ],
)
def test_the_sla_state_of_a_task_is_said_in_words(
    status: str, due: timedelta, level: int, text: str, state: str
) -> None:
    result = sla(status=status, due_at=NOW + due, escalation_level=level, now=NOW, lang=EN)
    assert (result.text, result.state) == (text, state)


def test_times_are_shown_in_shanghai_whatever_they_come_as() -> None:
    assert shanghai(NOW, lang=ZH) == "2025年3月1日 09:30"
    assert shanghai(NOW, lang=EN) == "Mar 1, 2025, 09:30"
    assert shanghai(NOW.replace(tzinfo=None), lang=EN) == "Mar 1, 2025, 09:30"  # naive is UTC
    assert shanghai("2025-03-01T01:30:00+00:00", lang=ZH) == "2025年3月1日 09:30"
    assert shanghai(None, lang=ZH) == "" and shanghai("", lang=EN) == ""


def test_four_eyes_refusal_says_who_must_decide() -> None:
    own = refusal_text("four_eyes_violation", lang=EN, username="sam", submitted_by="sam")
    assert own == "You submitted this case: a second person must decide it (four-eyes rule)."
    other = refusal_text("four_eyes_violation", lang=EN, username="sue", submitted_by="alice")
    assert "a different supervisor must decide (four-eyes rule)" in other
    limit = refusal_text(
        "approval_limit_exceeded",
        lang=EN,
        amount=Decimal("1000000"),
        approval_limit=Decimal("500000"),
    )
    assert "¥1,000,000.00 is above your approval limit ¥500,000.00" in limit
    assert "claimed by sid" in refusal_text("claimed_by_other", lang=EN, assignee="sid")
    assert (
        refusal_text("something_new", lang=EN)
        == "The process refused the request; nothing was changed."
    )


def test_refusals_are_said_in_chinese_with_the_amounts_in_them() -> None:
    own = refusal_text("four_eyes_violation", lang=ZH, username="sam", submitted_by="sam")
    assert own == "此案件由您提交，须由另一人审批（双人复核原则）。"
    limit = refusal_text(
        "approval_limit_exceeded",
        lang=ZH,
        amount=Decimal("1000000"),
        approval_limit=Decimal("500000"),
    )
    assert limit == "金额 ¥1,000,000.00 超出您的审批权限 ¥500,000.00，须由权限更高的主管审批。"
    # A detail from the workflow's validator is translated too.
    text = refusal_text(
        "decision_not_allowed", lang=ZH, detail="underwriting takes approve or reject"
    )
    assert text == "此处不能做出该决定：核保只能批准或驳回。"


def test_the_sla_and_spans_are_said_in_chinese() -> None:
    due = sla(status="open", due_at=NOW + timedelta(hours=3), escalation_level=0, now=NOW, lang=ZH)
    assert (due.text, due.state) == ("3 小时后到期", "soon")
    late = sla(status="open", due_at=NOW - timedelta(days=2), escalation_level=2, now=NOW, lang=ZH)
    assert late.text == "已升级（第 2 级）· 已超时 2 天"
    assert sla(status="done", due_at=NOW, escalation_level=0, now=NOW, lang=ZH).text == "已完成"


@pytest.mark.parametrize(
    ("event", "who"),
    [
        ("Approved by sue: income verified", "sue"),
        ("Enrollment started by alice", "alice"),
        ("Cancellation requested: olga: customer asked", "olga"),
        ("Process terminated: olga: stuck", "olga"),
        ("Verification passed", "system"),
    ],
)
def test_the_person_of_a_timeline_entry_is_found_in_its_words(event: str, who: str) -> None:
    assert who_did(event, "") == who


def test_timeline_steps_show_the_waits_between_them_as_gaps() -> None:
    def entry(after: timedelta, event: str) -> SimpleNamespace:
        return SimpleNamespace(at=NOW + after, event=event, detail="")

    result = steps(
        [
            entry(timedelta(0), "Enrollment started by alice"),
            entry(timedelta(seconds=30), "Verification passed"),
            entry(timedelta(hours=3), "Approved by sue: fine"),
            entry(timedelta(days=2, hours=3), "Premium charge failed: bank down"),
        ],
        lang=EN,
    )
    assert [(s.gap, s.gap_size) for s in result] == [
        (None, 0),
        (None, 0),
        ("2 h later", 3),
        ("2 d later", 4),
    ]
    assert [s.kind for s in result] == ["person", "system", "person", "failure"]
    assert [s.who for s in result] == ["alice", "system", "sue", "system"]


def test_what_lies_ahead_is_soonest_first_with_the_waits_between() -> None:
    deadlines = [
        SimpleNamespace(name="task_escalates", at=NOW + timedelta(hours=48), passed=False),
        SimpleNamespace(name="task_due", at=NOW + timedelta(hours=24), passed=False),
    ]
    timers = [SimpleNamespace(timer_id="2", fires_at=NOW + timedelta(hours=24))]
    items = ahead(deadlines, timers, now=NOW, lang=EN)
    assert [(a.what, a.when, a.gap) for a in items] == [
        ("Task due", "in 1 d", "1 d later"),
        ("Timer 2 fires", "in 1 d", None),
        ("Task escalates", "in 2 d", "1 d later"),
    ]


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("/ui/inbox?kind=underwriting", "/ui/inbox?kind=underwriting"),
        ("/ui/tasks/uw-X", "/ui/tasks/uw-X"),
        ("/ui", "/ui"),
        ("//evil.example/ui/inbox", None),
        ("https://evil.example/ui/inbox", None),
        ("/\\evil.example", None),
        ("/v1/tasks", None),
        ("/ui/../v1/tasks", None),
        ("/ui/signin?next=/ui/inbox", None),
        ("/ui/inbox\r\nSet-Cookie: x=y", None),
        ("", None),
        (None, None),
    ],
)
def test_sign_in_leads_back_only_to_a_page_of_the_console(
    value: str | None, safe: str | None
) -> None:
    assert safe_next(value) == safe


def test_a_form_token_belongs_to_its_cookie_and_the_server_secret() -> None:
    settings = Settings(environment="test", jwt_secret="s" * 40)
    other = Settings(environment="test", jwt_secret="t" * 40)
    token = csrf_token(settings, "cookie-value-aaaaaaaaaaaa")
    assert token == csrf_token(settings, "cookie-value-aaaaaaaaaaaa")
    assert token != csrf_token(settings, "cookie-value-bbbbbbbbbbbb")
    assert token != csrf_token(other, "cookie-value-aaaaaaaaaaaa")
    assert "cookie-value" not in token


def test_a_step_told_by_a_catalogue_text_is_in_the_readers_language_with_its_person() -> None:
    from services.ops.timeline import TimelineEntry, said

    words = said("Rejected by %(by)s: %(reason)s", by="sue", reason="risk")
    entry = TimelineEntry(
        at=datetime(2025, 3, 1, 1, 30, tzinfo=UTC),
        event=words.english,
        detail="update decide",
        event_id=7,
        msgid=words.msgid,
        params=words.params,
    )
    assert entry.event == "Rejected by sue: risk"  # the API's and the golden files' English
    [zh] = steps([entry], lang=language("zh_CN"))
    [en] = steps([entry], lang=language("en"))
    assert (zh.what, zh.who, zh.kind) == ("sue 拒绝：risk", "sue", "person")
    assert (en.what, en.who) == ("Rejected by sue: risk", "sue")


@pytest.mark.parametrize(
    ("subject", "zh"),
    [
        ("Underwrite TERM_LIFE_20 for 张三", "核保：TERM_LIFE_20（张三）"),
        ("Approve hospitalisation claim on P1", "审批保单 P1 的住院理赔"),
        ("Appeal: hospitalisation claim on P1", "申诉：保单 P1 的住院理赔"),
        ("Payout declined for claim C1: fix the account", "理赔 C1 赔款被拒：请更正收款账户"),
        ("Return visit for policy P1 (TERM_LIFE_20)", "回访保单 P1（TERM_LIFE_20）"),
        ("Mis-selling on policy P1: remediate", "保单 P1 存在销售误导：请整改"),
        ("Something new", "Something new"),
    ],
)
def test_a_task_subject_is_said_in_the_readers_language(subject: str, zh: str) -> None:
    from api.web.formatting import subject_text

    assert subject_text(subject, lang=language("zh_CN")) == zh
    assert subject_text(subject, lang=language("en")) == subject
