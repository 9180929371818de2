# The three services. Their environment is in one place (the names are the services' settings):
# rename a variable here and in the service's settings dataclass together.

locals {
  # The manifest core's settings (ndjson_to_parquet.config.CoreSettings), on the builder and the
  # stream creator alike. Each variable here is a settings field without a Python default: the
  # module's variables are the one place its default lives (tests/e2e/test_settings.py checks).
  core_environment = {
    FILE_TRACKING_TABLE       = aws_dynamodb_table.tracking.name
    METRICS_TABLE             = aws_dynamodb_table.metrics.name
    MANIFEST_BUCKET           = module.bucket["manifest"].id
    OUTPUT_BUCKET             = module.bucket["output"].id
    STATE_MACHINE_ARN         = local.state_machine_arn
    EVENT_BUS_NAME            = aws_cloudwatch_event_bus.etl.name
    START_MODE                = var.eventbridge_enabled ? "eventbridge" : "stepfunctions"
    GLUE_JOB_NAME             = aws_glue_job.batch.name
    SPARK_GLUE_JOB_NAME       = aws_glue_job.spark.name
    SPARK_THRESHOLD_BYTES     = tostring(var.spark_threshold_bytes)
    MAX_FILES_PER_MANIFEST    = tostring(var.max_files_per_manifest)
    MAX_BYTES_PER_MANIFEST    = tostring(var.max_bytes_per_manifest)
    ORPHAN_AGE_SECONDS        = tostring(var.orphan_after_seconds)
    BREAKER_FAILURE_THRESHOLD = tostring(var.breaker_failure_threshold)
    BREAKER_WINDOW_SECONDS    = tostring(var.breaker_window_seconds)
    LOG_LEVEL                 = var.log_level
  }

  builder_environment = merge(local.core_environment, {
    QUARANTINE_BUCKET = module.bucket["quarantine"].id
    MANIFEST_MODE     = var.stream_manifests_enabled ? "stream" : "builder"
    MAX_FILE_BYTES    = tostring(var.max_file_bytes)
  })

  status_updater_environment = {
    FILE_TRACKING_TABLE = aws_dynamodb_table.tracking.name
    METRICS_TABLE       = aws_dynamodb_table.metrics.name
    LOG_LEVEL           = var.log_level
  }

  stream_creator_environment = local.core_environment
}

# ---------------------------------------------------------------------------------- manifest-builder

module "builder" {
  source = "../lambda_service"

  name         = local.names.builder
  description  = "Validates landed NDJSON files, tracks them, cuts manifests and starts their processing; flushes orphans on schedule."
  package_path = "${var.package_dir}/manifest-builder.zip"
  handler      = "manifest_builder.handler.lambda_handler"
  timeout      = var.builder.timeout
  memory_size  = var.builder.memory_size

  attach_policy_json = true
  policy_json        = data.aws_iam_policy_document.builder.json

  environment        = local.builder_environment
  log_retention_days = var.log_retention_days

  sqs_source = {
    queue_name                         = local.names.file_events
    dlq_name                           = local.names.dlq
    batch_size                         = var.builder.batch_size
    maximum_batching_window_in_seconds = var.builder.maximum_batching_window_in_seconds
    maximum_concurrency                = var.builder.maximum_concurrency
    max_receive_count                  = 3
    visibility_timeout_seconds         = max(360, 6 * var.builder.timeout)
    receive_wait_time_seconds          = 20
    message_retention_seconds          = 4 * 86400
    dlq_message_retention_seconds      = 14 * 86400
  }

  alarm_actions = local.alarm_actions
  tags          = var.tags
}

# ------------------------------------------------------------------------------ batch-status-updater

module "status_updater" {
  source = "../lambda_service"

  name         = local.names.status_updater
  description  = "Moves every file of a processed manifest to completed#N or failed#N; records the outcome for the circuit breaker."
  package_path = "${var.package_dir}/batch-status-updater.zip"
  handler      = "batch_status_updater.handler.lambda_handler"
  timeout      = var.status_updater.timeout
  memory_size  = var.status_updater.memory_size

  attach_policy_json = true
  policy_json        = data.aws_iam_policy_document.status_updater.json

  environment        = local.status_updater_environment
  log_retention_days = var.log_retention_days

  alarm_actions = local.alarm_actions
  tags          = var.tags
}

# --------------------------------------------------------------------- stream-manifest-creator (flag)

module "stream_creator" {
  source = "../lambda_service"
  count  = var.stream_manifests_enabled ? 1 : 0

  name         = local.names.stream_creator
  description  = "Builds manifests from pending files inserted into the tracking table (DynamoDB Streams)."
  package_path = "${var.package_dir}/stream-manifest-creator.zip"
  handler      = "stream_manifest_creator.handler.lambda_handler"
  timeout      = var.builder.timeout
  memory_size  = var.builder.memory_size

  attach_policy_json = true
  policy_json        = data.aws_iam_policy_document.stream_creator.json

  environment        = local.stream_creator_environment
  log_retention_days = var.log_retention_days

  alarm_actions = local.alarm_actions
  tags          = var.tags
}

resource "aws_lambda_event_source_mapping" "tracking_stream" {
  count = var.stream_manifests_enabled ? 1 : 0

  event_source_arn               = aws_dynamodb_table.tracking.stream_arn
  function_name                  = module.stream_creator[0].function_arn
  starting_position              = "LATEST"
  batch_size                     = 100
  maximum_retry_attempts         = 5
  bisect_batch_on_function_error = true
  function_response_types        = ["ReportBatchItemFailures"]

  # Only new file records matter; MANIFEST records and status changes are not the creator's business.
  filter_criteria {
    filter {
      pattern = jsonencode({ eventName = ["INSERT"] })
    }
  }

  destination_config {
    on_failure {
      destination_arn = module.builder.dlq_arn
    }
  }
}

# ------------------------------------------------------------------------------ scheduled orphan flush

resource "aws_scheduler_schedule" "flush" {
  #checkov:skip=CKV_AWS_297:The schedule's only data is the constant input {"action":"flush"}; Scheduler encrypts it with an AWS owned key.
  name                = local.names.flush_schedule
  description         = "Orphan flush: manifests of files that waited orphan_after_seconds, and pending manifests."
  schedule_expression = var.flush_interval_minutes == 1 ? "rate(1 minute)" : "rate(${var.flush_interval_minutes} minutes)"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = module.builder.function_arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ action = "flush" })

    retry_policy {
      maximum_retry_attempts = 0 # the next flush comes soon enough
    }
  }
}
