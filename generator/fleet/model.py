"""The fleet file (``fleet.yaml``): which services form a fleet, its environments, owner and fleet-wide settings.

Like the service spec, every model forbids unknown keys. Rules across files (a service listed twice, an
environment a service lacks, calls and events between the services) are not in the model: they live in
:mod:`generator.fleet.loader`, which reports them located in the file they concern.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from generator.spec.models import LOG_RETENTION_DAYS, SERVICE_NAME_RE, EnvName, FreeText, LogRetentionDays

FLEET_NAME_RE = SERVICE_NAME_RE  # the fleet's name goes into stack, bus and alarm names like a service's
SPEC_PATH_RE = r"^[^\x00]+\.(yaml|yml)$"
EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventBus(Model):
    """The fleet's EventBridge bus (one per fleet and environment, created by the fleet stack)."""

    archive_retention_days: int = Field(
        30, ge=0, le=3650, description="Days the bus's archive keeps every event for replay (0 keeps them forever)")


class Settings(Model):
    """Fleet-wide settings of the fleet stack."""

    event_bus: EventBus = Field(default_factory=EventBus, description="The shared event bus of the fleet")
    log_retention_days: LogRetentionDays = Field(30, description="Retention of the fleet stack's own log groups; one of CloudWatch's allowed values",
                                                 json_schema_extra={"enum": list(LOG_RETENTION_DAYS)})
    alarm_email: Annotated[str, StringConstraints(pattern=EMAIL_RE, max_length=254)] | None = Field(
        None, description="Subscribe this address to the fleet's alarm topic (AWS sends a confirmation e-mail)")


class Fleet(Model):
    """A fleet of msgen services: one checkout (a monorepo, submodules or side-by-side clones) holds their specs."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="msgen fleet file")

    name: Annotated[str, StringConstraints(pattern=FLEET_NAME_RE)] = Field(
        description="Lower-case DNS-safe name of the fleet, 3-40 characters, e.g. shop; it names the fleet stack and its bus")
    owner: FreeText = Field(description="The team that owns the fleet (its stack, bus and dashboard)")
    description: Annotated[str, StringConstraints(max_length=500)] = Field("", description="One or two sentences on what the fleet does")
    environments: Annotated[list[EnvName], Field(min_length=1, max_length=10, json_schema_extra={"uniqueItems": True})] = Field(
        description="The environments the fleet is deployed to; each must be an environment of every service")
    services: Annotated[list[Annotated[str, StringConstraints(pattern=SPEC_PATH_RE, max_length=1024)]], Field(min_length=1, max_length=100)] = Field(
        description="Paths of the services' spec files, relative to this file (e.g. services/payment-svc/service.yaml)")
    settings: Settings = Field(default_factory=Settings, description="Fleet-wide settings of the fleet stack")

    @field_validator("environments")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("an environment is listed twice")
        return v


SCHEMA_ID = "https://msgen.dev/schemas/fleet.schema.json"


def json_schema() -> str:
    """The JSON Schema of the fleet file, as committed in generator/fleet/fleet.schema.json (sorted keys, so stable).

    What it does not say, by design: the rules across files (a spec listed twice, an environment a service lacks,
    calls and events between the services), which `msgen fleet validate` checks."""
    import json

    from generator.spec.schema import SCHEMA_DIALECT, SpecJsonSchema

    schema = Fleet.model_json_schema(mode="validation", schema_generator=SpecJsonSchema)
    schema["$schema"] = SCHEMA_DIALECT
    schema["$id"] = SCHEMA_ID
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
