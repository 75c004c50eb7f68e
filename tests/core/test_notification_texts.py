"""Every notification the processes put in the outbox has its text, in Chinese and in
English, rendered by the relay where it delivers them (workers.outbox)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from core.i18n import EN, ZH, gettext
from domain import notices
from workers.outbox import SimulatedMessenger, render

ROOT = Path(__file__).resolve().parents[2]
_NOTIFY = re.compile(r'notify\(\s*(f?)"([a-z_{}]+)"')
# The one key built at run time: workflows/enrollment.py, the underwriting task's reminders.
_EXPANSIONS = {"underwriting_{action}": ("underwriting_remind", "underwriting_escalate")}
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def used_templates() -> set[str]:
    """Every template key the workflows pass to ``notify``."""
    keys: set[str] = set()
    for source in (ROOT / "workflows").glob("*.py"):
        for is_f, key in _NOTIFY.findall(source.read_text(encoding="utf-8")):
            keys.update(_EXPANSIONS[key] if is_f else (key,))
    return keys


def test_the_processes_use_templates_this_test_can_find() -> None:
    assert {"policy_issued", "claim_paid", "cooling_off_started", "process_halted"} <= (
        used_templates()
    )


@pytest.mark.parametrize("template", sorted(used_templates()))
def test_each_template_the_processes_use_has_a_chinese_text(template: str) -> None:
    assert template in notices.TEMPLATES, f"{template} has no text in domain/notices.py"
    msgid = notices.TEMPLATES[template]
    chinese = gettext(ZH, msgid)
    assert chinese != msgid and re.search(r"[\u4e00-\u9fff]", chinese), template
    # The translation keeps every parameter of the English text, and nothing more.
    assert set(_PLACEHOLDER.findall(chinese)) == set(_PLACEHOLDER.findall(msgid))
    assert gettext(EN, msgid) == msgid


def test_a_text_is_rendered_chinese_first_with_moments_and_money_per_language() -> None:
    params = {"policy_number": "P2025000001", "ends_at": "2025-03-16T01:30:00+00:00"}
    assert render("cooling_off_started", params, case_id="E1", locale=ZH) == (
        "您的保单 P2025000001 犹豫期至 2025年3月16日 09:30 止：在此之前您可以申请退保并退还保费。"
    )
    assert "until Mar 16, 2025, 09:30:" in render(
        "cooling_off_started", params, case_id="E1", locale=EN
    )
    assert render(
        "policy_cancelled", {"policy_number": "P1", "refund": "170.00"}, case_id="E1", locale=ZH
    ) == ("保单 P1 已退保，退费 ¥170.00。")
    # A parameter the call did not pass is empty; a key without a text still says something.
    assert render("policy_issued", {}, case_id="E1", locale=EN) == "Policy  was issued."
    assert render("brand_new", {}, case_id="E1", locale=EN) == "Notice brand_new about E1."


def test_the_dev_relay_writes_the_chinese_text_with_the_english_beside_it(tmp_path: Path) -> None:
    messenger = SimulatedMessenger(tmp_path / "messages.jsonl")
    messenger.deliver(
        key="E1:claim_paid",
        recipient="agent:alice",
        channel="inbox",
        template="claim_paid",
        params={},
        case_id="C1",
    )
    [line] = [json.loads(x) for x in (tmp_path / "messages.jsonl").read_text().splitlines()]
    assert line["locale"] == "zh_CN"
    assert line["text"] == "理赔案件 C1 已赔付。"
    assert line["texts"] == {"zh_CN": "理赔案件 C1 已赔付。", "en": "Claim C1 was paid."}
    assert line["template"] == "claim_paid" and line["params"] == {}
