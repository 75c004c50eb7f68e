"""Customer records: personal data encrypted at rest, found by keyed hash, across a key
rotation."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.records import RecordActivities
from core.crypto import FieldCipher
from core.keys import Keyring
from db.repositories import customers
from domain.activities import CustomerRegistration
from domain.enrollment import CustomerDetails
from tests.activities.conftest import DB_NAME
from tests.support import CUSTOMER_ID_NUMBER

OLD = Keyring(active_id="2026-01", keys={"2026-01": b"o" * 32})
# Rotation: the new key goes first and encrypts; the old one stays to decrypt old rows.
ROTATED = Keyring(active_id="2026-07", keys={"2026-07": b"n" * 32, "2026-01": b"o" * 32})
PHONE = "13912345678"


def registration(app_no: str, phone: str = PHONE) -> CustomerRegistration:
    return CustomerRegistration(
        application_no=app_no,
        agent="alice",
        customer=CustomerDetails(name="王五", id_number=CUSTOMER_ID_NUMBER, phone=phone),
        birth_date=date(1990, 5, 17),
    )


async def test_id_number_and_phone_are_stored_encrypted_and_masked(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    ref = await RecordActivities(sessions, FieldCipher(OLD)).register_customer(registration("E1"))
    async with sessions() as s:
        row = await customers.get_customer(s, customer_id=ref.customer_id)
    assert row is not None
    assert row.id_masked == CUSTOMER_ID_NUMBER[:6] + "*" * 8 + CUSTOMER_ID_NUMBER[-4:]
    assert FieldCipher(OLD).decrypt(row.id_number_enc) == CUSTOMER_ID_NUMBER
    assert FieldCipher(OLD).decrypt(row.phone_enc) == PHONE
    raw = b"".join(p.read_bytes() for p in tmp_path.glob(DB_NAME + "*"))
    assert CUSTOMER_ID_NUMBER.encode() not in raw and PHONE.encode() not in raw
    # Nothing in any text column of the file holds the number either.
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        dump = "\n".join(db.iterdump())
    assert CUSTOMER_ID_NUMBER not in dump and PHONE not in dump


async def test_after_a_key_rotation_old_rows_stay_readable_and_findable(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    before = await RecordActivities(sessions, FieldCipher(OLD)).register_customer(
        registration("E1")
    )
    rotated = FieldCipher(ROTATED)
    async with sessions() as s:
        old_row = await customers.get_customer(s, customer_id=before.customer_id)
    assert old_row is not None
    assert old_row.id_number_enc.startswith("2026-01:")
    assert rotated.decrypt(old_row.id_number_enc) == CUSTOMER_ID_NUMBER  # old key still decrypts

    # The same person applying again after the rotation is the same customer (the keyed
    # hash did not change); their contact data is re-encrypted under the new key.
    after = await RecordActivities(sessions, rotated).register_customer(
        registration("E2", phone="13700001111")
    )
    assert after.customer_id == before.customer_id
    async with sessions() as s:
        found = await customers.get_customer_by_id_hash(
            s, id_hash=rotated.blind_index(CUSTOMER_ID_NUMBER)
        )
    assert found is not None and found.id == before.customer_id
    assert found.phone_enc.startswith("2026-07:")
    assert rotated.decrypt(found.phone_enc) == "13700001111"
