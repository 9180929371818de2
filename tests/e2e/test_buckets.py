"""Every bucket of every pipeline is hardened the same way (issue 8, bug 4: modules/s3_bucket).

Read back from the deployed local stack: default encryption, all public access blocked, ACLs off
(BucketOwnerEnforced), a bucket policy that refuses every request without TLS, versioning, and a
lifecycle that aborts unfinished multipart uploads.
"""

from __future__ import annotations

import json

import boto3
import pytest

pytestmark = pytest.mark.e2e


def _buckets(outputs: dict) -> dict[str, str]:
    """Every bucket the stack outputs, by "<pipeline>.<output>"."""
    found = {}
    for pipeline in ("example", "alerts_to_sftp", "ndjson_to_parquet", "csv_to_api"):
        for name, value in (outputs.get(pipeline) or {}).items():
            if name.endswith("_bucket"):
                found[f"{pipeline}.{name}"] = value
    return found


BUCKET_OUTPUTS = [
    "alerts_to_sftp.staging_bucket",
    "csv_to_api.results_bucket",
    "csv_to_api.upload_bucket",
    "ndjson_to_parquet.input_bucket",
    "ndjson_to_parquet.manifest_bucket",
    "ndjson_to_parquet.output_bucket",
    "ndjson_to_parquet.quarantine_bucket",
    "ndjson_to_parquet.scripts_bucket",
]


def test_every_pipeline_bucket_is_checked(deployed_stack):
    """A bucket output added to a pipeline is added to the checks below."""
    assert sorted(_buckets(deployed_stack)) == sorted(BUCKET_OUTPUTS)


def _denies_plain_http(statement: dict, bucket: str) -> bool:
    resources = statement.get("Resource", [])
    resources = resources if isinstance(resources, list) else [resources]
    condition = statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
    return (
        statement.get("Effect") == "Deny"
        and statement.get("Principal") in ("*", {"AWS": "*"})
        and statement.get("Action") in ("s3:*", ["s3:*"])
        and {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"} <= set(resources)
        and condition in ("false", ["false"], False)
    )


@pytest.mark.parametrize("output", BUCKET_OUTPUTS)
def test_bucket_is_hardened(deployed_stack, output):
    bucket = _buckets(deployed_stack)[output]
    s3 = boto3.client("s3")

    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"aws:kms", "AES256"}

    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }

    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]

    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    statements = policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]
    assert any(_denies_plain_http(statement, bucket) for statement in statements), (
        f"{output} ({bucket}) accepts requests without TLS: {json.dumps(statements)}"
    )

    assert s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"

    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    aborts = [rule for rule in lifecycle if rule.get("AbortIncompleteMultipartUpload")]
    assert aborts, lifecycle
    assert all(rule["Status"] == "Enabled" for rule in aborts), lifecycle
    assert any(rule.get("NoncurrentVersionExpiration") for rule in lifecycle), lifecycle
