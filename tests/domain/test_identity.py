"""GB 11643 resident ID numbers: check digit, what the number encodes, age."""

from __future__ import annotations

from datetime import date

import pytest

from domain.identity import (
    InvalidIdNumber,
    age_on,
    check_digit,
    is_valid_id_number,
    make_id_number,
    parse_id_number,
)
from tests.support import CUSTOMER_ID_NUMBER

# The example number printed in GB 11643-1999 itself.
STANDARD_EXAMPLE = "11010519491231002X"


def test_check_digit_matches_the_standards_worked_example() -> None:
    assert check_digit(STANDARD_EXAMPLE[:17]) == "X"


def test_make_id_number_builds_a_number_that_parses_to_its_birth_date() -> None:
    number = make_id_number("440524", date(1980, 1, 1), 1)

    assert len(number) == 18
    assert parse_id_number(number).birth_date == date(1980, 1, 1)


@pytest.mark.parametrize(("sequence", "sex"), [(123, "M"), (124, "F")])
def test_sex_follows_the_parity_of_the_sequence_code(sequence: int, sex: str) -> None:
    assert parse_id_number(make_id_number("110101", date(1990, 5, 17), sequence)).sex == sex


def test_lowercase_x_check_character_is_accepted() -> None:
    assert parse_id_number(STANDARD_EXAMPLE.lower()).birth_date == date(1949, 12, 31)


def test_surrounding_whitespace_is_ignored() -> None:
    assert is_valid_id_number(f"  {CUSTOMER_ID_NUMBER}\n")


def test_wrong_check_digit_is_rejected() -> None:
    wrong = CUSTOMER_ID_NUMBER[:17] + ("0" if CUSTOMER_ID_NUMBER[17] != "0" else "1")

    with pytest.raises(InvalidIdNumber, match="check digit"):
        parse_id_number(wrong)


@pytest.mark.parametrize(
    "value",
    [CUSTOMER_ID_NUMBER[:17], "0" + CUSTOMER_ID_NUMBER[1:]],
    ids=["17-chars", "leading-zero"],
)
def test_malformed_shape_is_rejected(value: str) -> None:
    assert not is_valid_id_number(value)


def test_impossible_calendar_date_is_rejected() -> None:
    first17 = "11010119900230123"  # 30 February

    with pytest.raises(InvalidIdNumber, match="impossible birth date"):
        parse_id_number(first17 + check_digit(first17))


def test_birth_year_before_1900_is_rejected() -> None:
    assert not is_valid_id_number(make_id_number("110101", date(1899, 12, 31), 1))


def test_birth_date_after_today_is_rejected() -> None:
    number = make_id_number("110101", date(2030, 1, 1), 1)

    with pytest.raises(InvalidIdNumber):
        parse_id_number(number, today=date(2029, 12, 31))


def test_error_message_does_not_echo_the_number() -> None:
    wrong = CUSTOMER_ID_NUMBER[:17] + ("0" if CUSTOMER_ID_NUMBER[17] != "0" else "1")

    with pytest.raises(InvalidIdNumber) as caught:
        parse_id_number(wrong)

    assert CUSTOMER_ID_NUMBER[:17] not in str(caught.value)


def test_age_is_one_less_the_day_before_the_birthday() -> None:
    assert age_on(date(1990, 5, 17), date(2020, 5, 16)) == 29


def test_age_increases_on_the_birthday() -> None:
    assert age_on(date(1990, 5, 17), date(2020, 5, 17)) == 30


def test_leap_day_birthday_is_not_reached_on_28_february_of_a_common_year() -> None:
    assert age_on(date(2000, 2, 29), date(2019, 2, 28)) == 18


def test_leap_day_birthday_counts_from_1_march_in_a_common_year() -> None:
    assert age_on(date(2000, 2, 29), date(2019, 3, 1)) == 19


def test_leap_day_birthday_counts_on_29_february_of_a_leap_year() -> None:
    assert age_on(date(2000, 2, 29), date(2020, 2, 29)) == 20
