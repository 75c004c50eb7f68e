"""Record activities: keep the read model (customers, enrollments, quotes, policies) current.

Every write is an idempotent upsert keyed by a business key, because activities run at
least once.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.crypto import FieldCipher
from db.repositories import customers
from domain import steps
from domain.activities import (
    CustomerRef,
    CustomerRegistration,
)
from domain.masking import mask_id_number, mask_phone


class RecordActivities:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], cipher: FieldCipher):
        self._sessions = session_factory
        self._cipher = cipher

    @activity.defn(name=steps.REGISTER_CUSTOMER.name)
    async def register_customer(self, registration: CustomerRegistration) -> CustomerRef:
        """Find or create the customer by the keyed hash of their ID number; personal data
        is stored encrypted."""
        c = registration.customer
        async with self._sessions() as session, session.begin():
            row = await customers.upsert_customer(
                session,
                id_hash=self._cipher.blind_index(c.id_number),
                id_number_enc=self._cipher.encrypt(c.id_number.upper()),
                id_masked=mask_id_number(c.id_number),
                name=c.name,
                phone_enc=self._cipher.encrypt(c.phone),
                phone_masked=mask_phone(c.phone),
                email=c.email,
                birth_date=registration.birth_date,
            )
        return CustomerRef(customer_id=row.id)
