"""The DAGs build with the Airflow Task SDK (in its own virtualenv, as MWAA would parse them)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_PYTHON = REPO / ".local" / "venv-airflow" / "bin" / "python"

BUILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
import alerts_to_sftp as module
dag = module.dag
print(json.dumps({
    "dag_id": dag.dag_id,
    "tasks": sorted(dag.task_dict),
    "downstream": {t: sorted(dag.task_dict[t].downstream_task_ids) for t in dag.task_dict},
    "max_active_runs": dag.max_active_runs,
    "catchup": dag.catchup,
    "retries": dag.default_args["retries"],
    "sensor_mode": dag.task_dict["finalized"].mode,
}))
"""


def test_alerts_dag_builds_and_waits_for_finalization_after_triggering():
    assert AIRFLOW_PYTHON.exists(), "run `make setup` (builds .local/venv-airflow)"
    result = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", BUILD, str(REPO / "airflow" / "dags")],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "AIRFLOW_HOME": str(REPO / ".local" / "airflow-home")},
    )
    assert result.returncode == 0, result.stderr
    dag = json.loads(result.stdout.strip().splitlines()[-1])
    assert dag["dag_id"] == "alerts_to_sftp"
    assert dag["tasks"] == ["finalized", "trigger"]
    assert dag["downstream"] == {"trigger": ["finalized"], "finalized": []}
    assert dag["max_active_runs"] == 1
    assert dag["catchup"] is False
    assert dag["retries"] >= 1
    assert dag["sensor_mode"] == "reschedule"  # waiting for hours must not hold a worker slot
