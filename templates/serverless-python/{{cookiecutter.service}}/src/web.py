{%- set health = cookiecutter._msgen.container.health_check_path if cookiecutter._msgen.container else "/health" -%}
{%- set port = cookiecutter._msgen.container.port if cookiecutter._msgen.container else 8080 -%}
{%- set ready = cookiecutter._msgen.container.database if cookiecutter._msgen.container else False -%}
{%- set ready = ready and not (cookiecutter._msgen.container_routes | selectattr("path", "equalto", "/ready") | list) -%}
"""The container service (hybrid pattern): the routes API Gateway sends through its VPC link.

Same standards as the Lambda handlers: the correlation id from the header (or a new one) on every log
line and on the response, the trace id of the request's X-Amzn-Trace-Id header on every log line, JSON logs
through Powertools' Logger, the handlers named in service.yaml.
{%- if cookiecutter._msgen.tracing == "opentelemetry" %}
Each request is a span: FastAPI's own (its method, route template and status code), a child of the trace in the
request's X-Amzn-Trace-Id header (API Gateway's; see tracing.py), with the correlation id.
{%- endif %}
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from typing import Annotated, Any

{% if ready %}import psycopg
{% endif %}from aws_lambda_powertools.event_handler.exceptions import ServiceError
{%- if ready %}
from botocore.exceptions import BotoCoreError, ClientError
{%- endif %}
from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse, Response

{% for name in (["correlation"] + (["storage"] if ready else []) + (["tracing"] if cookiecutter._msgen.tracing == "opentelemetry" else []) + (cookiecutter._msgen.container_routes | map(attribute="module") | unique | list)) | unique | sort %}import {{ name }}
{% endfor %}from observability import TRACE_HEADER, adopt_trace_header, logger
from rest import decimals, plain


class CorrelationFilter(logging.Filter):
    """Puts the current request's correlation id on every record (per request, safe across threads)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation.current()
        return True


logger.addFilter(CorrelationFilter())
{%- if cookiecutter._msgen.tracing == "opentelemetry" %}
tracing.propagate_trace_header()
{%- endif %}
app = FastAPI(title="{{ cookiecutter.service }}", docs_url=None, redoc_url=None)


@app.middleware("http")
async def correlation_middleware(request: Request, call_next):
    incoming = request.headers.get(correlation.HEADER)
    cid = correlation.adopt(incoming if incoming and correlation.is_valid(incoming) else str(uuid.uuid4()))
    adopt_trace_header(request.headers.get(TRACE_HEADER))
{%- if cookiecutter._msgen.tracing == "opentelemetry" %}
    tracing.annotate(correlation_id=cid)  # on FastAPI's span of this request
{%- endif %}
    started = time.perf_counter()
    response = await call_next(request)
    response.headers[correlation.HEADER] = cid
    route, elapsed_ms = f"{request.method} {request.url.path}", int((time.perf_counter() - started) * 1000)
    logger.info("handled request", extra={"route": route, "status": response.status_code, "latency_ms": elapsed_ms})
    return response


@app.exception_handler(ServiceError)
def service_error(request: Request, error: ServiceError) -> JSONResponse:
    """The handlers raise the same errors as the Lambda handlers (NotFoundError, BadRequestError, ...)."""
    return JSONResponse(status_code=error.status_code, content={"message": error.msg})


def _reply(result: tuple[int, Any]) -> Response:
    status, body = result
    return Response(status_code=status) if body is None else JSONResponse(status_code=status, content=plain(body))
{%- if cookiecutter._msgen.container_routes | selectattr("path", "equalto", health) | list | length == 0 %}


@app.get("{{ health }}")
def health() -> dict[str, str]:
    """Load balancer health check."""
    return {"status": "ok"}
{%- endif %}
{%- if ready %}


@app.get("/ready", response_model=None)
def ready() -> dict[str, str] | JSONResponse:
    """Readiness: the database answers `SELECT 1` (the load balancer checks {{ health }}, which does not depend on it)."""
    try:
        with storage.database() as connection:
            connection.execute("SELECT 1").fetchone()
    except (psycopg.Error, BotoCoreError, ClientError):
        logger.exception("the database is not ready")
        return JSONResponse(status_code=503, content={"status": "database unavailable"})
    return {"status": "ok"}
{%- endif %}
{#- The handlers call boto3, which blocks: the routes are plain functions, which FastAPI runs in its thread pool. #}
{%- for r in cookiecutter._msgen.container_routes %}
{%- set methods = '"GET", "POST", "PUT", "PATCH", "DELETE"' if r.method == "ANY" else '"' ~ r.method ~ '"' %}
{%- set args = [] %}
{%- for p in r.params %}{% set _ = args.append(p ~ ": str") %}{% endfor %}
{%- if r.kind == "create" %}{% set _ = args.append("body: Annotated[dict[str, Any] | None, Body()] = None") %}{% endif %}
{%- if r.search_in %}{% set _ = args.append('q: str = ""') %}{% endif %}
{%- set call = r.module ~ "." ~ r.function ~ "(" ~ ((["decimals(body or {})"] if r.kind == "create" else []) + r.params + (["q=q"] if r.search_in else [])) | join(", ") ~ ")" %}


@app.api_route("{{ r.path | replace('+}', ':path}') }}", methods=[{{ methods }}])
{%- set line = "def " ~ r.module ~ "_" ~ r.function ~ "(" ~ (args | join(", ")) ~ ") -> Response:" %}
{%- if line | length <= 120 %}
{{ line }}
{%- else %}
def {{ r.module }}_{{ r.function }}(
{%- for a in args %}
    {{ a }},
{%- endfor %}
) -> Response:
{%- endif %}
    return _reply({{ call }})
{%- endfor %}


def main() -> None:
    import uvicorn

    uvicorn.run(app, host="0.0.0.0", port=int(os.environ.get("PORT", "{{ port }}")), access_log=False)


if __name__ == "__main__":
    main()
