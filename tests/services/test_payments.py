"""services.payments.verify_callback: only the gateway's signature over the raw body passes."""

from __future__ import annotations

import pytest

from gateways.payment import sign_callback
from services.payments import verify_callback
from services.problems import ProblemError

SECRET = "gateway-secret"
BODY = b'{"order_id": "P1"}'


@pytest.mark.parametrize(
    "signature",
    [sign_callback(SECRET, BODY), f" {sign_callback(SECRET, BODY).upper()}\n"],
)
def test_the_gateways_signature_passes_in_any_case_and_padding(signature: str) -> None:
    verify_callback(SECRET, BODY, signature)


@pytest.mark.parametrize(
    "signature",
    [None, "", sign_callback("another-secret", BODY), sign_callback(SECRET, BODY + b" ")],
)
def test_a_missing_or_forged_signature_is_invalid_signature(signature: str | None) -> None:
    with pytest.raises(ProblemError) as caught:
        verify_callback(SECRET, BODY, signature)
    assert (caught.value.status_code, caught.value.code) == (401, "invalid_signature")
