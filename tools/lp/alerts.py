"""`lp alerts`: trigger and follow alerts-to-SFTP jobs through the pipeline's ALB, with the same client
the Airflow DAG uses (airflow/dags/alerts_client.py) and the trigger secret read from Secrets Manager."""

from __future__ import annotations

from typing import Any

from lp.deployment import Deployment, LpError

PIPELINE = "alerts_to_sftp"


def _endpoint(deployment: Deployment) -> tuple[str, str]:
    pipeline = deployment.pipeline(PIPELINE)
    secret_arn = pipeline["settings"]["secrets"]["trigger_secret_arn"]
    secret = deployment.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
    return pipeline["trigger_url"], secret


def _call(function: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    from alerts_client import TriggerError

    try:
        return dict(function(*args, **kwargs))
    except TriggerError as error:
        raise LpError(
            f"the trigger answered HTTP {error.status}: {error.body.get('error', error.body)}"
        ) from error
    except OSError as error:
        raise LpError(f"cannot reach the trigger endpoint: {error}") from error


def trigger(deployment: Deployment, job_id: str | None, statuses: list[int] | None) -> dict[str, Any]:
    from alerts_client import trigger_job

    url, secret = _endpoint(deployment)
    return _call(trigger_job, url, secret, job_id, statuses)


def jobs(deployment: Deployment, state: str | None, limit: int) -> list[dict[str, Any]]:
    from alerts_client import list_jobs

    url, secret = _endpoint(deployment)
    return list(_call(list_jobs, url, secret, state=state, limit=limit)["jobs"])


def job(deployment: Deployment, job_id: str) -> dict[str, Any]:
    from alerts_client import job_status

    url, secret = _endpoint(deployment)
    return _call(job_status, url, secret, job_id)
