"""Daily alerts-to-SFTP run: trigger the job through the ALB, then wait until the finalizer closes it.

Configure one Airflow connection, ``alerts_trigger`` (on MWAA, backed by Secrets Manager):
host = the pipeline's ``trigger_url`` output, password = the trigger secret.
The job id is derived from the logical date, so a retried or cleared trigger task re-triggers the
same job, which the pipeline makes harmless.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Connection, PokeReturnValue, task

from alerts_client import job_status, trigger_job

CONNECTION_ID = "alerts_trigger"


def _trigger() -> tuple[str, str]:
    connection = Connection.get(CONNECTION_ID)
    return connection.host, connection.password


with DAG(
    dag_id="alerts_to_sftp",
    description="Alerts for 20 statuses, each as one JSON file on the partner's SFTP server",
    schedule="0 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=2), "retry_exponential_backoff": True},
    tags=["lambda-pipelines", "alerts"],
) as dag:

    @task(execution_timeout=timedelta(minutes=20))
    def trigger(ds_nodash: str | None = None) -> str:
        url, secret = _trigger()
        job_id = f"airflow-{ds_nodash}"
        summary = trigger_job(url, secret, job_id)
        print(
            f"job {job_id}: {summary['state']}, {summary['alert_count']} alerts, totals {summary['totals']}"
        )
        return job_id

    @task.sensor(poke_interval=60, timeout=6 * 3600, mode="reschedule")
    def finalized(job_id: str) -> PokeReturnValue:
        url, secret = _trigger()
        status = job_status(url, secret, job_id)
        return PokeReturnValue(is_done=status["state"] == "finalized", xcom_value=status)

    finalized(trigger())
