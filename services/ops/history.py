"""A process's event history made readable for ops: payloads decoded through the codec,
personal data masked, each event compact (``{"event_id", "at", "type", "attributes"}``).

Payloads are decrypted here, in the API, and masked before they leave it: the ID number,
phone, bank account and query password never appear in what ops see, whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.converter import DataConverter

from domain.masking import mask_account, mask_id_number, mask_name, mask_phone, scrub

UNDECODABLE = "<payload not decodable>"

# Keys whose values are personal data, and how each is shown.
_MASKERS = {
    "id_number": mask_id_number,
    "phone": mask_phone,
    "bank_account": mask_account,
    "account": mask_account,
    "payee_account": mask_account,
    "query_password": lambda _: "********",
    "email": lambda v: (v[:1] + "***@" + v.rpartition("@")[2]) if "@" in v else "***",
    "birth_date": lambda v: v[:4] + "-**-**",
}
# Dicts that describe a person: their ``name`` is personal data too.
_PERSON_KEYS = {"customer", "holder", "insured", "payee"}
_PERSON_MARKERS = {"id_number", "phone"}
# Workflow task bookkeeping: how Temporal drives the workflow, not what the process did.
_WORKFLOW_TASK_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
}
_CAMEL_WORD = re.compile(r"_([a-z])")


def event_type_name(event_type: int) -> str:
    """``EVENT_TYPE_ACTIVITY_TASK_SCHEDULED`` → ``ActivityTaskScheduled``."""
    name = EventType.Name(event_type).removeprefix("EVENT_TYPE_").lower()  # type: ignore[arg-type]
    return _CAMEL_WORD.sub(lambda m: m.group(1).upper(), name[:1].upper() + name[1:])


async def decode_events(
    converter: DataConverter,
    events: Sequence[HistoryEvent],
    *,
    include_workflow_tasks: bool = False,
) -> list[dict[str, Any]]:
    """The events, decoded and masked, oldest first."""
    decoded = []
    for event in events:
        if not include_workflow_tasks and event.event_type in _WORKFLOW_TASK_EVENTS:
            continue
        field = event.WhichOneof("attributes")
        raw = (
            json_format.MessageToDict(getattr(event, field), preserving_proto_field_name=True)
            if field
            else {}
        )
        attributes = await _decode_payloads(converter, raw)
        decoded.append(
            {
                "event_id": event.event_id,
                "at": event.event_time.ToDatetime(tzinfo=UTC).isoformat(),
                "type": event_type_name(event.event_type),
                "attributes": mask(attributes),
            }
        )
    return decoded


async def _decode_payloads(converter: DataConverter, value: Any) -> Any:
    """`value` (protobuf JSON) with every payload replaced by what it holds, ``Payloads``
    by a list, and failures by their real (decoded) message."""
    if isinstance(value, list):
        return [await _decode_payloads(converter, item) for item in value]
    if not isinstance(value, dict):
        return value
    if _is_payload(value):
        return await decode_payload(converter, value)
    if set(value) == {"payloads"} and isinstance(value["payloads"], list):
        return [await _decode_payloads(converter, item) for item in value["payloads"]]
    out = {key: await _decode_payloads(converter, item) for key, item in value.items()}
    return _readable_failure(out) if "message" in out and "encoded_attributes" in out else out


def _is_payload(value: dict[str, Any]) -> bool:
    metadata = value.get("metadata")
    return (
        isinstance(metadata, dict)
        and "encoding" in metadata
        and set(value) <= {"metadata", "data", "external_payloads"}
    )


async def decode_payload(converter: DataConverter, value: dict[str, Any]) -> Any:
    """The Python value of one payload in protobuf JSON form (codec, then converter)."""
    try:
        payload = json_format.ParseDict(value, Payload(), ignore_unknown_fields=True)
        decoded = await decode_raw_payloads(converter, [payload])
        return converter.payload_converter.from_payloads(decoded)[0]
    except Exception:  # a payload we cannot read is shown as such, not a failed request
        return UNDECODABLE


async def decode_raw_payloads(
    converter: DataConverter, payloads: Iterable[Payload]
) -> list[Payload]:
    codec = converter.payload_codec
    items = list(payloads)
    return list(await codec.decode(items)) if codec else items


def _readable_failure(failure: dict[str, Any]) -> dict[str, Any]:
    # The failure converter moves message and stack trace into an encoded payload.
    encoded = failure.pop("encoded_attributes")
    if isinstance(encoded, dict) and isinstance(encoded.get("message"), str):
        failure["message"] = encoded["message"]
    failure.pop("stack_trace", None)
    return failure


async def failure_message(converter: DataConverter, failure: Failure) -> tuple[str, str | None]:
    """The readable message and error type of a failure (decoded, scrubbed)."""
    copy = Failure()
    copy.CopyFrom(failure)
    message = copy.message
    if copy.HasField("encoded_attributes"):
        try:
            [payload] = await decode_raw_payloads(converter, [copy.encoded_attributes])
            attributes = converter.payload_converter.from_payloads([payload])[0]
            if isinstance(attributes, dict) and isinstance(attributes.get("message"), str):
                message = attributes["message"]
        except Exception:  # keep the outer message rather than fail the whole answer
            message = copy.message
    error_type = None
    if copy.HasField("application_failure_info"):
        error_type = copy.application_failure_info.type or None
    elif copy.HasField("timeout_failure_info"):
        error_type = "timeout"
    return scrub(message), error_type


# --- masking -------------------------------------------------------------------------------


def mask(value: Any, *, key: str | None = None, person: bool = False) -> Any:
    """`value` with personal data masked by key (``id_number``, ``phone``, accounts, ...),
    a person's ``name`` masked, and every other string scrubbed of anything shaped like
    an ID number, phone or account."""
    if isinstance(value, dict):
        is_person = (key in _PERSON_KEYS) or bool(_PERSON_MARKERS & set(value))
        return {k: mask(v, key=k, person=is_person) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(item, key=key) for item in value]
    if isinstance(value, str):
        if key in _MASKERS:
            return _MASKERS[key](value)
        if key == "name" and person:
            return mask_name(value)
        return scrub(value)
    return value


def parse_time(value: Any) -> datetime | None:
    """An ISO timestamp from decoded data, or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
