"""How the console says things, in the reader's language (``core.i18n.Language``): times
in Asia/Shanghai, SLA state in words ("due in 3 h", "overdue by 1 d", "escalated"), codes
in words, a refusal's code as a sentence, and a process's timeline as steps with the waits
between them. Pure functions, computed on the server."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from api.web.terms import TERMS
from core.i18n import ZH, Language
from domain.texts import N_

OPEN_TASK_STATUSES = ("open", "claimed")
# A task due within this is shown as "soon" (amber) rather than "ok".
DUE_SOON = timedelta(hours=4)
# Steps closer together than this are drawn without a gap between them.
MIN_GAP = timedelta(minutes=1)

SlaState = Literal["ok", "soon", "overdue", "escalated", "closed"]


def shanghai(at: datetime | str | None, *, lang: Language) -> str:
    """A moment in Asia/Shanghai as `lang` writes it (an ISO string is read first); empty
    for none."""
    if at is None or at == "":
        return ""
    if isinstance(at, str):
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            return at
    else:
        moment = at
    return lang.moment(aware(moment))


def span(delta: timedelta, *, lang: Language) -> str:
    """A duration as people glance at it: ``45 min``, ``3 h``, ``2 d`` (rounded down)."""
    seconds = abs(delta.total_seconds())
    if seconds < 60:
        return lang.gettext("<1 min")
    if seconds < 3600:
        return lang.gettext("%(n)s min", n=int(seconds // 60))
    if seconds < 24 * 3600:
        return lang.gettext("%(n)s h", n=int(seconds // 3600))
    return lang.gettext("%(n)s d", n=int(seconds // 86400))


def relative(at: datetime, now: datetime, *, lang: Language) -> str:
    """``in 3 h`` or ``2 d ago``."""
    at = aware(at)
    if at > now:
        return lang.gettext("in %(span)s", span=span(at - now, lang=lang))
    return lang.gettext("%(span)s ago", span=span(now - at, lang=lang))


def words(code: Any, *, lang: Language) -> str:
    """A code in words: ``claim_approval`` → ``claim approval`` (``理赔审批``); a code
    without a term (``api.web.terms``) as it is, underscores as spaces."""
    text = str(code or "")
    term = TERMS.get(text)
    return lang.gettext(term) if term else text.replace("_", " ")


@dataclass(frozen=True)
class Sla:
    text: str
    state: SlaState


def sla(
    *, status: str, due_at: datetime, escalation_level: int, now: datetime, lang: Language
) -> Sla:
    """The SLA state of a task at a glance."""
    if status not in OPEN_TASK_STATUSES:
        return Sla(words(status, lang=lang), "closed")
    due_at = aware(due_at)
    state: SlaState
    if due_at <= now:
        text = lang.gettext("overdue by %(span)s", span=span(now - due_at, lang=lang))
        state = "overdue"
    else:
        text = lang.gettext("due in %(span)s", span=span(due_at - now, lang=lang))
        state = "soon" if due_at - now <= DUE_SOON else "ok"
    if escalation_level > 1:
        return Sla(
            lang.gettext("escalated (level %(level)s) · %(sla)s", level=escalation_level, sla=text),
            "escalated",
        )
    if escalation_level > 0:
        return Sla(lang.gettext("escalated · %(sla)s", sla=text), "escalated")
    return Sla(text, state)


# --- refusals ------------------------------------------------------------------------------


def refusal_text(
    code: str,
    *,
    lang: Language,
    detail: str = "",
    username: str = "",
    submitted_by: str | None = None,
    assignee: str | None = None,
    amount: Decimal | None = None,
    approval_limit: Decimal | None = None,
) -> str:
    """A refused action, said to the person who tried it. `code` is the API's problem code;
    `detail` (the problem's, in English) is shown translated where the catalogue has it."""
    _ = lang.gettext
    match code:
        case "four_eyes_violation":
            if submitted_by is not None and submitted_by == username:
                return _(
                    "You submitted this case: a second person must decide it (four-eyes rule)."
                )
            return _(
                "You already took part in this decision (as filer, approver or the one who "
                "rejected it): a different supervisor must decide (four-eyes rule)."
            )
        case "approval_limit_exceeded":
            if amount is not None and approval_limit is not None:
                return _(
                    "The amount %(amount)s is above your approval limit %(limit)s: a "
                    "supervisor with a higher limit must decide it.",
                    amount=lang.money(amount),
                    limit=lang.money(approval_limit),
                )
            return _(
                "The amount is above your approval limit: a supervisor with a higher limit "
                "must decide it."
            )
        case "task_not_open":
            return _("This task is no longer open: it has already been decided or closed.")
        case "claimed_by_other":
            if assignee:
                return _(
                    "This task is claimed by %(who)s: only they can act on it while they hold it.",
                    who=assignee,
                )
            return _(
                "This task is claimed by another supervisor: only they can act on it while "
                "they hold it."
            )
        case "not_a_supervisor":
            return _("Only a supervisor can take or decide tasks; your role cannot.")
        case "decision_not_allowed":
            return _(
                "This decision is not possible here: %(why)s.",
                why=_(detail) if detail else _("not allowed"),
            )
        case "amount_above_assessment":
            return _(
                "The approved amount must be above zero and within the assessment (%(detail)s).",
                detail=_(detail),
            )
        case "documents_required":
            return _("To request more information, tick the documents that are still missing.")
        case "reason_required":
            return _("Give a reason for the decision.")
        case "invalid_amount":
            return _("The amount must be a number with at most two decimals, above zero.")
        case "temporal_unavailable":
            return _("The workflow service cannot be reached right now; try again shortly.")
        case "workflow_not_running":
            return _("The process is not running any more: there is nothing to cancel.")
        case "task_not_found" | "enrollment_not_found" | "workflow_not_found":
            return _("There is no such case.")
    return _("The process refused the request; nothing was changed.")


# --- task subjects -----------------------------------------------------------------------

Reworded = tuple[tuple[re.Pattern[str], str], ...]  # a pattern of English and its msgid

# The subjects the processes write into a task (workflows/: ``subject=``), in English as
# the API gives them; the console says them in the reader's language. Params named in
# ``_SUBJECT_CODES`` are codes (the incident type).
_SUBJECTS: Reworded = (
    (
        re.compile(r"^Underwrite (?P<product>\S+) for (?P<customer>.+)$", re.DOTALL),
        N_("Underwrite %(product)s for %(customer)s"),
    ),
    (
        re.compile(r"^Approve (?P<incident>\S+) claim on (?P<policy>\S+)$"),
        N_("Approve %(incident)s claim on %(policy)s"),
    ),
    (
        re.compile(r"^Appeal: (?P<incident>\S+) claim on (?P<policy>\S+)$"),
        N_("Appeal: %(incident)s claim on %(policy)s"),
    ),
    (
        re.compile(r"^Payout declined for claim (?P<claim>\S+): fix the account$"),
        N_("Payout declined for claim %(claim)s: fix the account"),
    ),
    (
        re.compile(r"^Return visit for policy (?P<policy>\S+) \((?P<product>[^)]*)\)$"),
        N_("Return visit for policy %(policy)s (%(product)s)"),
    ),
    (
        re.compile(r"^Mis-selling on policy (?P<policy>\S+): remediate$"),
        N_("Mis-selling on policy %(policy)s: remediate"),
    ),
    (
        re.compile(r"^Reinstatement of policy (?P<policy>\S+) \((?P<product>[^)]*)\)$"),
        N_("Reinstatement of policy %(policy)s (%(product)s)"),
    ),
    (
        re.compile(r"^Renewal of policy (?P<policy>\S+) \((?P<product>[^)]*)\)$"),
        N_("Renewal of policy %(policy)s (%(product)s)"),
    ),
    (
        re.compile(r"^Cash value of policy (?P<policy>\S+) not paid: fix the account$"),
        N_("Cash value of policy %(policy)s not paid: fix the account"),
    ),
)
_SUBJECT_CODES = frozenset({"incident"})


def reword(
    text: str,
    table: Reworded,
    *,
    lang: Language,
    param: Callable[[str, str], Any] = lambda _name, value: value,
) -> str | None:
    """`text`, a sentence a process wrote in English, said in `lang`: the first pattern of
    `table` that matches it gives the msgid, its named groups the params (each passed
    through `param(name, value)`); None when no pattern knows it."""
    for pattern, msgid in table:
        found = pattern.match(text)
        if found:
            return lang.gettext(msgid, **{k: param(k, v) for k, v in found.groupdict().items()})
    return None


def subject_text(subject: str, *, lang: Language) -> str:
    """A task's subject in `lang`; one not known here as the process wrote it."""
    said = reword(
        subject,
        _SUBJECTS,
        lang=lang,
        param=lambda name, value: words(value, lang=lang) if name in _SUBJECT_CODES else value,
    )
    return subject if said is None else said


# --- the timeline --------------------------------------------------------------------------

_BY = re.compile(r"\bby ([A-Za-z0-9_.@-]{1,64})")
_ACTOR_PREFIX = re.compile(r"^(?:Cancellation requested|Process terminated): ([A-Za-z0-9_.@-]+):")
_FAILED = re.compile(r"\b(?:failed|timed out)\b")

StepKind = Literal["person", "system", "failure"]


@dataclass(frozen=True)
class Step:
    """One thing the process did or had done to it: when, what, who."""

    at: datetime
    what: str
    detail: str
    who: str
    kind: StepKind
    gap: str | None  # the wait before this step, in words ("3 h later"); None if short
    gap_size: int  # 0 (none) to 4 (a day or more): how tall the gap is drawn


@dataclass(frozen=True)
class Ahead:
    """A deadline or timer still ahead of a running process (or just passed)."""

    at: datetime
    what: str
    when: str
    passed: bool
    gap: str | None = None  # the wait from the step before (or now), in words
    gap_size: int = 0


def who_did(event: str, detail: str) -> str:
    """The person in a timeline entry's text, or ``system``."""
    match = _ACTOR_PREFIX.match(event) or _BY.search(event)
    return match.group(1) if match else "system"


def gap_size(delta: timedelta) -> int:
    if delta < MIN_GAP:
        return 0
    if delta < timedelta(minutes=10):
        return 1
    if delta < timedelta(hours=2):
        return 2
    if delta < timedelta(days=1):
        return 3
    return 4


def said_text(msgid: str, params: dict[str, str], kinds: dict[str, str], *, lang: Language) -> str:
    """A timeline line told by a catalogue text, in `lang`: each param put in as its kind
    says (``services.ops.timeline.TimelineEntry``): codes by their terms, moments as
    `lang` writes them, a failure of ours by its type, a process's own reason translated;
    data (names, numbers, amounts, a person's reason) as it is."""
    shown: dict[str, str] = {}
    for name, value in params.items():
        match kinds.get(name):
            case "code":
                text = words(value, lang=lang)
                if msgid.startswith(f"%({name})s"):  # the sentence starts with it
                    text = text[:1].upper() + text[1:]
            case "codes":
                separator = "、" if lang.locale == ZH else ", "
                text = separator.join(words(c, lang=lang) for c in value.split(",") if c)
            case "moment":
                text = shanghai(value, lang=lang)
            case "failure":
                kind = params.get(f"{name}_code", "")
                text = words(kind, lang=lang) if kind in TERMS else lang.gettext(value)
            case "said":
                text = lang.gettext(value) if value else value
            case _:
                text = value
        shown[name] = text
    return lang.gettext(msgid, **shown)


def steps(entries: Iterable[Any], *, lang: Language) -> list[Step]:
    """Timeline entries (``at``, ``event``, ``detail``) as steps, each with the wait before it."""
    result: list[Step] = []
    previous: datetime | None = None
    for entry in entries:
        at = aware(entry.at)
        # A step told by a catalogue text names its person in ``by``; others in the words.
        msgid: str = getattr(entry, "msgid", "")
        params: dict[str, str] = getattr(entry, "params", {}) or {}
        kinds: dict[str, str] = getattr(entry, "kinds", {}) or {}
        who = (params.get("by") or "system") if msgid else who_did(entry.event, entry.detail)
        kind: StepKind = (
            "failure" if _FAILED.search(entry.event) else "system" if who == "system" else "person"
        )
        wait = at - previous if previous is not None else timedelta(0)
        size = gap_size(wait)
        result.append(
            Step(
                at=at,
                what=said_text(msgid, params, kinds, lang=lang) if msgid else entry.event,
                detail=entry.detail,
                who=who,
                kind=kind,
                gap=lang.gettext("%(span)s later", span=span(wait, lang=lang)) if size else None,
                gap_size=size,
            )
        )
        previous = at
    return result


def ahead(
    deadlines: Sequence[Any], timers: Sequence[Any], *, now: datetime, lang: Language
) -> list[Ahead]:
    """The deadlines (``name``, ``at``, ``passed``) and timers (``timer_id``, ``fires_at``) of a
    running process, soonest first."""
    items = [
        Ahead(at=aware(d.at), what=words(d.name, lang=lang).capitalize(), when="", passed=d.passed)
        for d in deadlines
    ]
    items += [
        Ahead(
            at=aware(t.fires_at),
            what=lang.gettext("Timer %(id)s fires", id=t.timer_id),
            when="",
            passed=False,
        )
        for t in timers
        if t.fires_at is not None
    ]
    result: list[Ahead] = []
    previous = now
    for item in sorted(items, key=lambda i: i.at):
        wait = item.at - previous
        size = gap_size(wait)
        result.append(
            Ahead(
                at=item.at,
                what=item.what,
                when=relative(item.at, now, lang=lang),
                passed=item.passed,
                gap=lang.gettext("%(span)s later", span=span(wait, lang=lang)) if size else None,
                gap_size=size,
            )
        )
        previous = max(previous, item.at)
    return result


def aware(at: datetime) -> datetime:
    """`at` with its zone; a naive time is UTC."""
    # SQLite hands back naive datetimes in some paths; ours are always stored in UTC.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
