{%- set health = cookiecutter._msgen.container.health_check_path if cookiecutter._msgen.container else "/health" -%}
{%- set port = cookiecutter._msgen.container.port if cookiecutter._msgen.container else 8080 -%}
"""The container service (hybrid pattern): the routes API Gateway sends through its VPC link.

Same standards as the Lambda handlers: the correlation id from the header (or a new one) on every log
line and on the response, JSON logs through Powertools' Logger, the handlers named in service.yaml.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

{% for name in (["correlation"] + (cookiecutter._msgen.container_routes | map(attribute="module") | unique | list)) | sort %}import {{ name }}
{% endfor %}from observability import logger
from rest import plain


class CorrelationFilter(logging.Filter):
    """Puts the current request's correlation id on every record (per request, safe across threads)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation.current()
        return True


logger.addFilter(CorrelationFilter())
app = FastAPI(title="{{ cookiecutter.service }}", docs_url=None, redoc_url=None)


@app.middleware("http")
async def correlation_middleware(request: Request, call_next):
    incoming = request.headers.get(correlation.HEADER)
    cid = correlation.adopt(incoming if incoming and correlation.is_valid(incoming) else str(uuid.uuid4()))
    started = time.perf_counter()
    response = await call_next(request)
    response.headers[correlation.HEADER] = cid
    logger.info("handled request", extra={"route": f"{request.method} {request.url.path}", "status": response.status_code,
                                          "latency_ms": int((time.perf_counter() - started) * 1000)})
    return response


def _reply(result: tuple[int, Any]) -> Response:
    status, body = result
    return Response(status_code=status) if body is None else JSONResponse(status_code=status, content=plain(body))
{%- if cookiecutter._msgen.container_routes | selectattr("path", "equalto", health) | list | length == 0 %}


@app.get("{{ health }}")
def health() -> dict[str, str]:
    """Load balancer health check."""
    return {"status": "ok"}
{%- endif %}
{%- for r in cookiecutter._msgen.container_routes %}


@app.api_route("{{ r.path | replace('+}', '}') }}", methods=[{% if r.method == "ANY" %}"GET", "POST", "PUT", "PATCH", "DELETE"{% else %}"{{ r.method }}"{% endif %}])
async def {{ r.module }}_{{ r.function }}(request: Request{% for p in r.params %}, {{ p }}: str{% endfor %}) -> Response:
    body = await request.json() if await request.body() else None
    return _reply({{ r.module }}.{{ r.function }}(body{% for p in r.params %}, {{ p }}{% endfor %}))
{%- endfor %}


def main() -> None:
    import uvicorn

    uvicorn.run(app, host="0.0.0.0", port=int(os.environ.get("PORT", "{{ port }}")), access_log=False)


if __name__ == "__main__":
    main()
