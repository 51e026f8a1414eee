"""The alarm table is complete and self-consistent, and docs/standards.md's alarm section is generated from it."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import MappingProxyType

import pytest

from generator import alarm_table
from generator.alarm_table import ALARMS, DEVIATION_FIELDS, MISSING, NOT_EMITTED, OPERATORS, PERIOD
from generator.kinds import KINDS
from generator.spec import models
from generator.synth.observability import alarms as synth_alarms

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = json.loads((ROOT / "tests" / "fixtures" / "aws_recommended_alarms.json").read_text(encoding="utf-8"))
RECOMMENDED = {(a["namespace"], a["metric"], tuple(sorted(a["dimensions"]))) for a in FIXTURE["alarms"]}
ROWS = [pytest.param(kind, row, id=f"{kind}.{row.signal}") for kind, row in alarm_table.rows()]
# The spec element a kind's element.<field> settings come from.
ELEMENTS = {"queue": models.Queue, "topic": models.Topic, "database": models.Database}
STATISTICS = {"Sum", "Average", "Maximum", "Minimum", "SampleCount"}


def _doc_script():
    spec = importlib.util.spec_from_file_location("update_standards_doc", ROOT / "scripts" / "update_standards_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_component_msgen_emits_has_its_alarms_in_the_kinds_table():
    components = {"function", "api", "distribution", "container_service", "load_balancer", "table", "queue", "topic", "workflow",
                  "database", "collection", "dead_letter_queue", "alarm_topic", "events_rule", "application_logs", "release"}
    assert {k.name for k in KINDS.values() if k.alarms} == components
    assert set(ALARMS) <= set(KINDS) and set(NOT_EMITTED) <= set(KINDS)
    assert all(KINDS[k].alarm_component for k in ALARMS)


@pytest.mark.parametrize(("kind", "row"), ROWS)
def test_a_row_is_a_valid_alarm(kind, row):
    assert row.operator in OPERATORS and row.missing in MISSING and row.period == PERIOD
    assert row.statistic in STATISTICS or re.fullmatch(r"p\d+(\.\d+)?", row.statistic)
    assert "Look first at:" in row.description
    if isinstance(row.evaluation_periods, int) and isinstance(row.datapoints, int):
        assert 1 <= row.datapoints <= row.evaluation_periods
    assert bool(row.expression) == bool(row.queries or row.over) or row.band
    if row.band:
        assert row.threshold is None and len(row.queries) == 1 and "Upper" in row.operator and row.band_text
    else:
        assert row.threshold is not None
    if row.when:
        assert row.when_text
    assert set(row.deviation) <= set(DEVIATION_FIELDS) and all(len(r) > 20 for r in row.deviation.values())
    assert not row.deviation or row.aws, "a deviation is from an AWS recommendation the row names"


@pytest.mark.parametrize(("kind", "row"), ROWS)
def test_every_setting_a_row_names_exists(kind, row):
    fields = models.Alarms.model_fields
    for value in (row.threshold, row.band, row.evaluation_periods, row.datapoints):
        if not isinstance(value, str):
            continue
        where, _, name = value.partition(".")
        if where == "alarms":
            assert name in fields, value
        elif where == "element":
            assert name in ELEMENTS[kind].model_fields, value
        else:
            assert value in synth_alarms.THRESHOLDS, value
    for name in re.findall(r"`(\w+)`", row.threshold_text):
        in_spec = name in fields or any(name in m.model_fields for m in (*ELEMENTS.values(), models.Application, models.Consumer))
        assert in_spec, f"{kind}.{row.signal}: threshold_text names `{name}`, which is no spec setting"


def test_every_reference_to_aws_names_a_recommendation_of_the_fixture():
    for kind, row in alarm_table.rows():
        for ref in row.aws:
            assert ref.key in RECOMMENDED, (kind, str(ref))
            assert ref.kind is None or ref.kind in KINDS
    for kind, skips in NOT_EMITTED.items():
        for skip in skips:
            assert skip.aws.key in RECOMMENDED, (kind, str(skip.aws))
            assert len(skip.reason) > 20


def test_a_recommendation_is_emitted_or_left_out_never_both():
    for kind, skips in NOT_EMITTED.items():
        emitted = {(alarm_table.aws_kind(k, a), a.key) for k, row in alarm_table.rows() for a in row.aws}
        assert not {(kind, s.aws.key) for s in skips} & emitted, kind


def test_logical_ids_and_signals_are_unique_per_kind():
    for kind, rows in ALARMS.items():
        ids = [(row.id, row.each) for row in rows]
        signals = [row.signal for row in rows]
        assert len(ids) == len(set(ids)) and len(signals) == len(set(signals)), kind


def test_signals_outside_the_health_composite_cannot_be_mistaken_for_health_alarms():
    """tests/test_observability.py tells the two apart by the end of the alarm name."""
    health = [row.signal.format(each="x") for _, row in alarm_table.rows() if row.health]
    signals = [row.signal for _, row in alarm_table.rows() if not row.health]
    assert len(signals) == len(set(signals))
    for s in signals:
        assert not any(h == s or h.endswith(f"-{s}") for h in health), s


@pytest.mark.parametrize(("min_acu", "max_acu", "expected"), [
    (0.5, 1, 189), (0.5, 4, 823), (0.5, 8, 1669), (1, 16, 3360), (0.5, 16, 2000), (1, 64, 5000), (0.5, 2, 400)])
def test_max_connections_follow_aurora_postgresql_defaults(min_acu, max_acu, expected):
    assert synth_alarms.aurora_max_connections(min_acu, max_acu) == expected


def test_the_standards_doc_alarm_section_is_generated_from_the_table():
    script = _doc_script()
    text = script.DOC.read_text(encoding="utf-8")
    assert script.updated(text) == text, "docs/standards.md is stale: run python scripts/update_standards_doc.py"
    section = text.split(script.BEGIN, 1)[1].split(script.END, 1)[0]
    for kind, row in alarm_table.rows():
        assert f"{KINDS[kind].alarm_component}-{row.signal.format(each='<index>')}`" in section


def test_the_standards_doc_check_can_fail(monkeypatch):
    script = _doc_script()
    text = script.DOC.read_text(encoding="utf-8")
    rows = dict(ALARMS)
    rows["function"] = rows["function"][1:]  # drop fn-<name>-errors
    monkeypatch.setattr(alarm_table, "ALARMS", MappingProxyType(rows))
    assert script.updated(text) != text
    with pytest.raises(SystemExit):
        script.updated(text.replace(script.BEGIN, ""))
