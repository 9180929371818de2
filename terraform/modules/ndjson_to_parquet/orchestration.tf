# Glue jobs (and their artifacts), the processor state machine, and the optional ManifestReady rule.

# -------------------------------------------------------------------------------------- Glue artifacts

locals {
  glue_artifacts = {
    batch_script = "ndjson_to_parquet_job.py"
    spark_script = "ndjson_to_parquet_spark.py"
    converter    = "ndjson_to_parquet_converter.zip"
  }
  glue_artifact_uris = { for key, file in local.glue_artifacts : key => "s3://${module.bucket["scripts"].id}/glue/${file}" }

  glue_default_arguments = merge(
    {
      "--converter_package" = local.glue_artifact_uris.converter
    },
    var.glue_extra_arguments,
  )
}

resource "aws_s3_object" "glue_artifact" {
  for_each = local.glue_artifacts

  bucket      = module.bucket["scripts"].id
  key         = "glue/${each.value}"
  source      = "${local.glue_dir}/${each.value}"
  source_hash = filemd5("${local.glue_dir}/${each.value}")
  tags        = var.tags
  # Encrypted by the bucket's default (SSE-KMS with the aws/s3 key): not restated per object.
}

# ------------------------------------------------------------------------------------------ Glue jobs

resource "aws_glue_job" "batch" {
  #checkov:skip=CKV_AWS_195:Output encryption is the output bucket's default SSE-KMS (modules/s3_bucket); a security configuration could only repeat it (SSE-S3 would downgrade it), the job keeps no bookmarks, and its logs are CloudWatch's, encrypted at rest.
  name        = local.names.batch_job
  description = "NDJSON -> Snappy Parquet for one manifest (Python shell); every value kept as its original text."
  role_arn    = aws_iam_role.glue.arn
  # Python shell jobs on Python 3.9 run on Glue 3.0.
  glue_version = "3.0"
  max_capacity = var.glue_max_capacity
  timeout      = var.glue_timeout_minutes
  max_retries  = 0 # the state machine decides what happens after a failed run

  command {
    name            = "pythonshell"
    python_version  = "3.9"
    script_location = local.glue_artifact_uris.batch_script
  }

  execution_property {
    max_concurrent_runs = var.glue_max_concurrent_runs
  }

  # No "library-set": pyarrow comes pinned from --additional-python-modules, the analytics set would
  # only add older copies of it and a slower start.
  default_arguments = merge(local.glue_default_arguments, {
    "--additional-python-modules" = var.pyarrow_requirement
  })

  tags       = var.tags
  depends_on = [aws_s3_object.glue_artifact]
}

resource "aws_glue_job" "spark" {
  #checkov:skip=CKV_AWS_195:Output encryption is the output bucket's default SSE-KMS (modules/s3_bucket); a security configuration could only repeat it (SSE-S3 would downgrade it), the job keeps no bookmarks, and its logs are CloudWatch's, encrypted at rest.
  name              = local.names.spark_job
  description       = "NDJSON -> Snappy Parquet for one large manifest (Glue 5.0 Spark), same output as the Python shell job."
  role_arn          = aws_iam_role.glue.arn
  glue_version      = "5.0"
  worker_type       = var.spark_worker_type
  number_of_workers = var.spark_number_of_workers
  timeout           = var.spark_timeout_minutes
  max_retries       = 0

  command {
    name            = "glueetl"
    python_version  = "3"
    script_location = local.glue_artifact_uris.spark_script
  }

  execution_property {
    max_concurrent_runs = var.glue_max_concurrent_runs
  }

  default_arguments = merge(local.glue_default_arguments, {
    # The Spark script imports its argument, manifest and naming helpers from the Python-shell script;
    # it ships the converter zip (--converter_package) to the executors itself.
    "--extra-py-files" = local.glue_artifact_uris.batch_script
    "--job-language"   = "python"
  })

  tags       = var.tags
  depends_on = [aws_s3_object.glue_artifact]
}

# ------------------------------------------------------------------------------------- state machine

locals {
  # A run that ends by Glue's own timeout reaches the failure path; TimeoutSeconds is the backstop for a
  # run that never ends: the longest job timeout, StartJobRun's retries (1 + 2 + ... + 2^(n-1) intervals)
  # and an hour.
  processor_timeout_seconds = (max(var.glue_timeout_minutes, var.spark_timeout_minutes) * 60
  + (pow(2, var.concurrent_runs_max_attempts) - 1) * var.concurrent_runs_retry_seconds + 3600)
}

resource "aws_sfn_state_machine" "processor" {
  #checkov:skip=CKV_AWS_285:A Standard workflow keeps each execution's full history for 90 days; vended logs would need account-wide logs:*Delivery permissions (README, "Not here, on purpose").
  #checkov:skip=CKV_AWS_284:ministack 1.5.33 returns no tracingConfiguration, so enabling it would show drift on every re-plan of the local stack; the functions it calls are traced and the execution history times each state.
  name     = local.names.state_machine
  type     = "STANDARD"
  role_arn = aws_iam_role.processor.arn

  definition = templatefile("${path.module}/processor.asl.json", {
    table_name                    = aws_dynamodb_table.tracking.name
    status_updater_arn            = module.status_updater.function_arn
    alerts_topic_arn              = module.alerts_topic.arn
    environment                   = local.env
    glue_poll_seconds             = var.glue_poll_seconds
    concurrent_runs_retry_seconds = var.concurrent_runs_retry_seconds
    concurrent_runs_max_attempts  = var.concurrent_runs_max_attempts
    retry_interval_seconds        = var.retry_interval_seconds
    timeout_seconds               = local.processor_timeout_seconds
  })

  tags = var.tags
}

# ------------------------------------------------------------------------- ManifestReady rule (flag)

resource "aws_cloudwatch_event_rule" "manifest_ready" {
  count = var.eventbridge_enabled ? 1 : 0

  name           = local.names.manifest_rule
  description    = "Starts the processor state machine for each ManifestReady event."
  event_bus_name = aws_cloudwatch_event_bus.etl.name
  event_pattern = jsonencode({
    source        = [local.names.event_source]
    "detail-type" = [local.names.event_type]
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "manifest_ready" {
  count = var.eventbridge_enabled ? 1 : 0

  rule           = aws_cloudwatch_event_rule.manifest_ready[0].name
  event_bus_name = aws_cloudwatch_event_bus.etl.name
  target_id      = "processor"
  arn            = aws_sfn_state_machine.processor.arn
  role_arn       = aws_iam_role.events[0].arn
  # The detail is the execution input (contract: ManifestReady detail = execution input).
  input_path = "$.detail"
}
