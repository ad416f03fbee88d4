"""Liveness and readiness probes (anonymous, reveal no configuration)."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.openapi import ResponseSpec

from mynth_adapters.health import Readiness
from mynth_http.di import Injected
from mynth_http.schemas.common import HealthOut, ReadinessOut


class SystemController(Controller):
    """`/healthz` and `/readyz`."""

    tags = ["system"]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/healthz", operation_id="GetHealth", summary="Liveness probe")
    async def get_health(self) -> HealthOut:
        return HealthOut()

    @get(
        "/readyz",
        operation_id="GetReadiness",
        summary="Readiness probe",
        responses={503: ResponseSpec(ReadinessOut, description="A dependency check fails")},
    )
    async def get_readiness(self, readiness: Injected[Readiness]) -> Response[ReadinessOut]:
        report = ReadinessOut.of(await readiness())
        return Response(report, status_code=report.http_status)
