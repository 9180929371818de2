"""Start ministack with the compatibility fixes our Terraform needs.

Run with ministack's own interpreter (its virtualenv), never imported by our code:

    .local/venv-ministack/bin/python tools/ministack_server.py

1. ministack 1.5.33 answers CloudWatch ``DescribeAlarms`` in the Query protocol (the one the
   Terraform AWS provider speaks) with a truncated alarm: no description, dimensions, statistic,
   period, actions or missing-data treatment. Every plan after an apply then shows drift, and the
   provider refuses an alarm whose statistic it cannot see, so ``ignore_changes`` cannot hide it.
   The fix answers with the same alarms ministack already returns in its JSON protocol, rendered
   as Query XML.
2. Its Glue ``CreateJob`` drops ``ExecutionProperty`` (``UpdateJob`` too) and keeps ``Tags`` where
   ``GetTags`` never looks, so every plan after an apply wants to set both again on each job. The
   fix keeps ``ExecutionProperty`` on the job and registers the tags under the job's ARN, as
   ``TagResource`` does.

   Alarms on metric math come back with a single-metric ``Period`` and ``Statistic`` they were never
   given (AWS returns none); those are dropped too.
3. An SDK's retry of a call whose first answer was lost is answered with that first answer instead of
   acting twice (a retried ``CreateRole`` failed a Terraform apply with 409): see ministack_replay.py.

Nothing else is changed. Remove a fix when ministack does it itself.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from xml.sax.saxutils import escape

import ministack_replay  # beside this script: python puts the script's folder first on sys.path
from ministack import app
from ministack.services import cloudwatch, glue

_original_describe_alarms = cloudwatch._describe_alarms


def _members(params: dict, prefix: str, limit: int) -> list[str]:
    values = []
    for i in range(1, limit + 1):
        value = cloudwatch._p(params, f"{prefix}.member.{i}")
        if not value:
            break
        values.append(value)
    return values


def _xml_value(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if key.endswith("Timestamp") and isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return escape(str(value))


def _to_xml(data: object, key: str = "") -> str:
    if isinstance(data, dict):
        return "".join(f"<{k}>{_to_xml(v, k)}</{k}>" for k, v in data.items() if v is not None)
    if isinstance(data, list):
        return "".join(f"<member>{_to_xml(v, key)}</member>" for v in data)
    return _xml_value(key, data)


def _without_single_metric_fields(result: dict) -> dict:
    for alarm in result.get("MetricAlarms", []):
        # A metric-math alarm (ministack keeps no MetricName, nor the queries): AWS returns no
        # single-metric period or statistic for it.
        if alarm.get("Metrics") or not alarm.get("MetricName"):
            for key in ("Period", "Statistic"):
                alarm.pop(key, None)
    return result


def _describe_alarms(params, cbor_data, is_cbor, is_json=False):
    if is_cbor:
        return _original_describe_alarms(params, cbor_data, is_cbor, is_json)
    if is_json:
        status, headers, body = _original_describe_alarms(params, cbor_data, is_cbor, is_json)
        if status == 200:
            body = json.dumps(_without_single_metric_fields(json.loads(body))).encode()
        return status, headers, body
    request = {
        "AlarmNames": _members(params, "AlarmNames", 100),
        "AlarmNamePrefix": cloudwatch._p(params, "AlarmNamePrefix"),
        "StateValue": cloudwatch._p(params, "StateValue"),
        "AlarmTypes": _members(params, "AlarmTypes", 10) or None,
        "MaxRecords": cloudwatch._p(params, "MaxRecords"),
        "NextToken": cloudwatch._p(params, "NextToken"),
    }
    request = {k: v for k, v in request.items() if v}
    status, _headers, body = _original_describe_alarms(params, request, False, True)
    if status != 200:
        return _original_describe_alarms(params, cbor_data, is_cbor, is_json)
    result = _without_single_metric_fields(json.loads(body))
    token = result.get("NextToken")
    inner = (
        "<DescribeAlarmsResult>"
        f"<MetricAlarms>{_to_xml(result.get('MetricAlarms', []))}</MetricAlarms>"
        f"<CompositeAlarms>{_to_xml(result.get('CompositeAlarms', []))}</CompositeAlarms>"
        + (f"<NextToken>{escape(token)}</NextToken>" if token else "")
        + "</DescribeAlarmsResult>"
    )
    return cloudwatch._xml(200, "DescribeAlarmsResponse", inner)


cloudwatch._describe_alarms = _describe_alarms

_original_create_job = glue._create_job
_original_update_job = glue._update_job


def _create_job(data):
    status, headers, body = _original_create_job(data)
    name = data.get("Name")
    if status == 200 and name in glue._jobs:
        if data.get("ExecutionProperty"):
            glue._jobs[name]["ExecutionProperty"] = dict(data["ExecutionProperty"])
        if data.get("Tags"):
            glue._tags[glue._arn("job", name)] = dict(data["Tags"])
    return status, headers, body


def _update_job(data):
    status, headers, body = _original_update_job(data)
    name = data.get("JobName")
    update = data.get("JobUpdate", {})
    if status == 200 and name in glue._jobs and "ExecutionProperty" in update:
        glue._jobs[name]["ExecutionProperty"] = dict(update["ExecutionProperty"])
    return status, headers, body


glue._create_job = _create_job
glue._update_job = _update_job

# main() serves the module's global ``app``: wrap it there.
app.app = ministack_replay.RetryReplay(app.app)

if __name__ == "__main__":
    app.main()
