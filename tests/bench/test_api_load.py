"""bench/api_load.py without a server: how a call is timed or counted as an error, and
which endpoint's p99 is the worst (the /healthz probe left out)."""

from __future__ import annotations

import httpx
import pytest

from bench.api_load import PROBE, CallFailed, Endpoints, worst_p99


def answer(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/ok":
        return httpx.Response(200, json={})
    if request.url.path == "/refused":
        problem = {"code": "duplicate_application"}
        return httpx.Response(
            409, json=problem, headers={"content-type": "application/problem+json"}
        )
    if request.url.path == "/broken":
        return httpx.Response(500, text="oops")
    raise httpx.ConnectError("refused", request=request)


async def test_a_call_is_a_sample_when_it_succeeds_and_an_error_by_kind_when_not() -> None:
    endpoints = Endpoints()
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(answer), base_url="http://x"
    ) as http:
        await endpoints.call("ok", http.get("/ok"))
        await endpoints.call("ok", http.get("/ok"))
        for path in ("/refused", "/broken", "/down"):
            with pytest.raises(CallFailed):
                await endpoints.call("other", http.get(path))
    summary = endpoints.summary()
    assert (summary["ok"]["count"], summary["ok"]["errors"]) == (2, 0)
    assert summary["other"]["count"] == 0
    assert summary["other"]["error_kinds"] == {
        "409 duplicate_application": 1,
        "500": 1,
        "ConnectError": 1,
    }


def test_the_worst_p99_leaves_out_the_probe_and_endpoints_without_samples() -> None:
    endpoints = {
        PROBE: {"p99_ms": 900.0},
        "quote": {"p99_ms": 200.0},
        "application": {"p99_ms": 430.5},
        "supervisor_read": {"count": 0, "errors": 3},
    }
    assert worst_p99(endpoints) == ("application", 430.5)
    assert worst_p99({PROBE: {"p99_ms": 1.0}}) is None
