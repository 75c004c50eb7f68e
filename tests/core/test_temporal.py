"""The one data converter: pydantic models through the AES-GCM codec."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from pydantic import BaseModel

from core.temporal import data_converter
from tests.support import CUSTOMER_ID_NUMBER, TEST_KEYRING


class Applicant(BaseModel):
    id_number: str
    sum_insured: Decimal
    signed_at: datetime


APPLICANT = Applicant(
    id_number=CUSTOMER_ID_NUMBER,
    sum_insured=Decimal("300000.01"),
    signed_at=datetime(2025, 6, 30, 9, 15, tzinfo=UTC),
)


async def test_model_with_decimal_and_datetime_survives_encode_and_decode() -> None:
    converter = data_converter(TEST_KEYRING)

    [decoded] = await converter.decode(await converter.encode([APPLICANT]), [Applicant])

    assert decoded == APPLICANT
    assert isinstance(decoded.sum_insured, Decimal)


async def test_encoded_payload_is_encrypted_and_hides_the_id_number() -> None:
    [payload] = await data_converter(TEST_KEYRING).encode([APPLICANT])

    assert payload.metadata["encryption-key-id"] == TEST_KEYRING.active_id.encode()
    assert CUSTOMER_ID_NUMBER.encode() not in payload.data
