"""The refusal registry: one status and text per code, and the API's grouping of them."""

import re

import pytest

from domain.refusals import REFUSALS, refusal_codes_by_status, refusal_for


def test_every_refusal_has_a_stable_code_a_client_error_status_and_a_text() -> None:
    for code, refusal in REFUSALS.items():
        assert refusal.code == code
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", code), code
        assert refusal.status in {403, 404, 409, 422}, code
        assert refusal.text and not refusal.text.endswith(".")


def test_a_title_is_the_code_in_words() -> None:
    assert refusal_for("four_eyes_violation").title == "Four eyes violation"


def test_an_unregistered_code_cannot_be_used() -> None:
    with pytest.raises(KeyError):
        refusal_for("no_such_refusal")


def test_codes_are_grouped_by_status_in_the_order_given() -> None:
    grouped = refusal_codes_by_status("task_not_open", "not_a_supervisor", "four_eyes_violation")
    assert grouped == {409: ["task_not_open", "four_eyes_violation"], 403: ["not_a_supervisor"]}
