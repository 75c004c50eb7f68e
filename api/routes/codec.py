"""The remote payload codec for the Temporal Web UI: ops read decoded payloads there too.

The UI (in the ops user's browser) posts ``{"payloads": [...]}`` — Payload messages in
protobuf JSON form, metadata and data base64 — to ``/codec/decode`` and ``/codec/encode``
and gets the same shape back. Point the UI at ``http://<api>/codec`` (``insureflow dev``
does). Cross-origin calls are allowed from the UI's origin only
(``settings.effective_ui_origins``), with credentials.

The caller must be ops: ``Authorization: Bearer <token>`` or the ``insureflow_session``
cookie holding the same token. Every decode is audited (how many payloads, which
namespace; never their content).
"""

from __future__ import annotations

from typing import Annotated, Any

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Depends, Header, Request
from google.protobuf import json_format
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload

from api.deps import SessionDep, SettingsDep, get_current_user
from api.middleware import client_address
from api.openapi import problem_responses
from core.codec import EncryptionCodec
from core.config import Settings
from core.keys import load_keyring
from domain.texts import N_
from domain.underwriting import Actor, Role
from services import audit
from services.problems import ProblemError

PREFIX = "/codec"
SESSION_COOKIE = "insureflow_session"
MAX_PAYLOADS = 1000
CORS_HEADERS = ["Authorization", "Content-Type", "X-Namespace"]

router = APIRouter(
    prefix=PREFIX,
    tags=["codec"],
    responses=problem_responses(
        {401: ["not_authenticated", "invalid_token"], 403: "forbidden"},
        {422: ["invalid_payload", "payload_not_decodable"]},
    ),
)


class CodecPayloads(BaseModel):
    """Payloads in protobuf JSON form: ``{"metadata": {"encoding": "<base64>"}, "data":
    "<base64>"}``. Fields other than ``payloads`` are ignored, as the UI may send more."""

    payloads: list[dict[str, Any]] = Field(max_length=MAX_PAYLOADS)


def _token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(SESSION_COOKIE) or None


async def codec_user(request: Request, settings: SettingsDep, session: SessionDep) -> Actor:
    """The ops user calling, from the bearer token or the session cookie."""
    user = await get_current_user(request, settings, session, _token(request))
    if not user.has(Role.OPS):
        raise ProblemError(403, "forbidden", N_("Forbidden"), N_("The codec needs the ops role."))
    return user


CodecUser = Annotated[Actor, Depends(codec_user)]


def _codec(request: Request) -> EncryptionCodec:
    codec: EncryptionCodec | None = getattr(request.app.state, "codec", None)
    if codec is None:
        codec = EncryptionCodec(load_keyring(request.app.state.settings))
        request.app.state.codec = codec
    return codec


def _parse(body: CodecPayloads) -> list[Payload]:
    try:
        return [
            json_format.ParseDict(p, Payload(), ignore_unknown_fields=True) for p in body.payloads
        ]
    except json_format.ParseError:
        raise ProblemError(
            422,
            "invalid_payload",
            N_("Invalid payload"),
            N_("payloads must be Payload messages in protobuf JSON form"),
        ) from None


def _answer(payloads: list[Payload]) -> CodecPayloads:
    return CodecPayloads(payloads=[json_format.MessageToDict(p) for p in payloads])


@router.post("/decode", response_model=CodecPayloads)
async def decode(
    body: CodecPayloads,
    user: CodecUser,
    request: Request,
    session: SessionDep,
    namespace: Annotated[str | None, Header(alias="X-Namespace")] = None,
) -> CodecPayloads:
    """Decrypt payloads (those not encrypted by us come back as they are). Audited."""
    payloads = _parse(body)
    try:
        decoded = _codec(request).decode_all(payloads)
    except (ValueError, InvalidTag):  # unknown key id, tampered or foreign data
        raise ProblemError(
            422,
            "payload_not_decodable",
            N_("Payload not decodable"),
            N_("a payload could not be decrypted with the configured keys"),
        ) from None
    await _audit_decode(session, user, request, count=len(payloads), namespace=namespace)
    return _answer(decoded)


@router.post("/encode", response_model=CodecPayloads)
async def encode(body: CodecPayloads, user: CodecUser, request: Request) -> CodecPayloads:
    """Encrypt payloads with the active key (the UI uses it to send signals and the like)."""
    codec = _codec(request)
    return _answer([codec.encode_one(p) for p in _parse(body)])


async def _audit_decode(
    session: AsyncSession, user: Actor, request: Request, *, count: int, namespace: str | None
) -> None:
    await audit.record(
        session,
        actor=user.username,
        action="ops.codec_decode",
        client=client_address(request),
        request_id=getattr(request.state, "request_id", None),
        detail={"payloads": count, "namespace": (namespace or "")[:128]},
    )
    await session.commit()


class CodecCORSMiddleware:
    """CORS for the codec routes only: the Temporal UI's origin may call them with
    credentials; the rest of the API stays same-origin."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=settings.effective_ui_origins,
            allow_credentials=True,
            allow_methods=["POST"],
            allow_headers=CORS_HEADERS,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            scope["path"] == PREFIX or scope["path"].startswith(PREFIX + "/")
        ):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
