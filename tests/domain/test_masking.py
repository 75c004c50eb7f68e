"""Masking of personal data for display and in free text."""

from __future__ import annotations

from domain.masking import mask_account, mask_id_number, mask_name, mask_phone, scrub
from tests.support import CUSTOMER_ID_NUMBER

PHONE = "13800138000"
ACCOUNT = "6222021234567890123"  # 19 digits


def test_mask_id_number_keeps_region_and_last_four() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"


def test_mask_phone_keeps_first_three_and_last_four() -> None:
    assert mask_phone(PHONE) == "138****8000"


def test_mask_account_keeps_last_four_and_ignores_spaces() -> None:
    assert mask_account("6222 0212 3456 7890 123") == "*" * 15 + "0123"


def test_mask_name_keeps_the_first_character_of_a_chinese_name() -> None:
    assert mask_name("张三丰") == "张**"


def test_mask_name_keeps_the_initial_of_each_latin_word() -> None:
    assert mask_name("Alice Smith") == "A**** S****"


def test_scrub_masks_id_number_phone_and_account_in_free_text() -> None:
    text = f"customer {CUSTOMER_ID_NUMBER} phone {PHONE} account {ACCOUNT}."

    assert scrub(text) == (
        f"customer {mask_id_number(CUSTOMER_ID_NUMBER)} phone 138****8000 account {'*' * 15}0123."
    )


def test_scrub_masks_an_id_number_with_lowercase_x() -> None:
    assert scrub("id=11010519491231002x") == "id=110105********002x"


def test_scrub_masks_a_phone_with_country_code() -> None:
    assert PHONE not in scrub(f"call +86 {PHONE}")


def test_scrub_leaves_amounts_and_dates_alone() -> None:
    text = "premium 270.00 on sum 300000, due 2025-06-30"

    assert scrub(text) == text
