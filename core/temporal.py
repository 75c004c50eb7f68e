"""The one Temporal client factory: pydantic converter, AES-GCM codec, encoded failures.

Used by the API, the workers, the CLI and the tests. Build the client once at start-up
and share it; it has no close().
"""

from __future__ import annotations

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from core.codec import EncryptionCodec
from core.config import Settings
from core.keys import Keyring, load_keyring


def data_converter(keyring: Keyring) -> DataConverter:
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keyring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(
    settings: Settings, *, target: str | None = None, keyring: Keyring | None = None
) -> Client:
    return await Client.connect(
        target or settings.effective_temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(keyring or load_keyring(settings)),
    )
