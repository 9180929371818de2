"""Each default is set once: what Terraform deploys on a function against what its handler's ``Settings``
declares, read from the deployed functions themselves.

Terraform owns deploy-time values and passes them in; a settings field Terraform sets carries no
Python default (it is required), so the two can never disagree. A variable Terraform sets that no
field reads is a typo or dead configuration; a required field Terraform does not set fails the cold
start in production. The same check covers every function of every pipeline.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

import boto3
import pytest

from pipelines_shared.settings import SettingsError, env_var_name, load_settings

pytestmark = pytest.mark.e2e


def deployed_functions(outputs: dict[str, Any]) -> list[str]:
    names = [outputs["example"]["function_name"]]
    for pipeline in ("alerts_to_sftp", "ndjson_to_parquet", "csv_to_api"):
        names += [name for name in outputs[pipeline]["functions"].values() if name]
    return names


def test_every_pipelines_functions_are_checked(deployed_stack):
    functions = deployed_functions(deployed_stack)
    assert len(functions) >= 12  # example, 4 alerts, 2 NDJSON (+ the stream creator behind its flag), 5 CSV


def test_terraform_sets_exactly_the_settings_without_a_python_default(deployed_stack):
    lambda_client = boto3.client("lambda")
    problems = []
    for name in deployed_functions(deployed_stack):
        config = lambda_client.get_function_configuration(FunctionName=name)
        environment = config.get("Environment", {}).get("Variables", {})
        handler = importlib.import_module(config["Handler"].rsplit(".", 1)[0])
        fields = {env_var_name(field): field for field in dataclasses.fields(handler.Settings)}
        required = {
            env
            for env, field in fields.items()
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        }
        if unknown := set(environment) - set(fields):
            problems.append(f"{name}: Terraform sets {sorted(unknown)}, which no setting reads")
        if missing := required - set(environment):
            problems.append(f"{name}: required {sorted(missing)} not set by Terraform")
        if twice := {env for env in environment if env in fields} - required:
            problems.append(f"{name}: {sorted(twice)} have a default in Python and a value from Terraform")
        try:
            load_settings(handler.Settings, environ=environment)  # the deployed values parse
        except SettingsError as error:
            problems.append(f"{name}: {error}")
    assert problems == []
