# The pipeline's functions. Their environment is in one place: each variable is a field of the service's
# Settings dataclass without a Python default (tests/e2e/test_settings.py checks).

locals {
  tables_environment = {
    FILE_TABLE     = aws_dynamodb_table.files.name
    ROWS_TABLE     = aws_dynamodb_table.rows.name
    RESULTS_BUCKET = module.bucket["results"].id
    LOG_LEVEL      = var.log_level
  }
}

# ----------------------------------------------------------------------- ingest queue -> starter

module "starter" {
  source = "../lambda_service"

  name         = local.names.starter
  description  = "Starts one file execution per object version (named after it: a duplicate event starts nothing)."
  package_path = "${var.package_dir}/csv-ingest-starter.zip"
  handler      = "csv_ingest_starter.handler.lambda_handler"
  timeout      = var.starter.timeout
  memory_size  = 256

  attach_policy_json = true
  policy_json        = data.aws_iam_policy_document.starter.json

  environment = merge(local.tables_environment, {
    STATE_MACHINE_ARN   = local.state_machine_arn
    INCOMING_PREFIX     = var.incoming_prefix
    INGEST_QUEUE_NAME   = local.names.ingest_queue
    MAX_FILES_IN_FLIGHT = tostring(local.max_files_in_flight)
    DEFER_SECONDS       = tostring(var.starter.defer_seconds)
  })
  log_retention_days = var.log_retention_days

  sqs_source = {
    queue_name          = local.names.ingest_queue
    dlq_name            = local.names.ingest_dlq
    batch_size          = var.starter.batch_size
    maximum_concurrency = var.starter.maximum_concurrency
    max_receive_count   = var.starter.max_receive_count
  }

  alarm_actions = local.alarm_actions
  tags          = var.tags
}

# ------------------------------------------------------------------------------------- planner

module "planner" {
  source = "../lambda_service"

  name         = local.names.planner
  description  = "Plans a file (header, rows, chunks at true row boundaries) and writes its report."
  package_path = "${var.package_dir}/csv-file-planner.zip"
  handler      = "csv_file_planner.handler.lambda_handler"
  timeout      = var.planner.timeout
  memory_size  = var.planner.memory_size

  attach_policy_json = true
  policy_json        = data.aws_iam_policy_document.planner.json

  environment = merge(local.tables_environment, {
    FEEDS_PARAMETER = aws_ssm_parameter.feeds.name
    CHUNK_BYTES     = tostring(var.chunk_bytes)
    MAX_CHUNKS      = tostring(var.max_chunks)
    MAX_CONCURRENCY = tostring(var.max_concurrency)
    STAGGER_SECONDS = tostring(var.stagger_seconds)
  })
  log_retention_days = var.log_retention_days

  alarm_actions = local.alarm_actions
  tags          = var.tags
}

# --------------------------------------------------------------------------------------- caller

# The caller's dead-letter queue: its on-failure destination (async invocations: redrives) and where
# the state machine parks a chunk whose retries ran out, as the same destination record.
resource "aws_sqs_queue" "caller_dlq" {
  name                      = local.names.caller_dlq
  message_retention_seconds = 14 * 86400
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

module "caller" {
  source = "../lambda_service"

  name         = local.names.caller
  description  = "Sends one chunk's rows to the partner API under the shared rate limit; records each row's outcome."
  package_path = "${var.package_dir}/csv-api-caller.zip"
  handler      = "csv_api_caller.handler.lambda_handler"
  timeout      = var.caller.timeout
  memory_size  = var.caller.memory_size
  # The most chunks in flight over every file: the fan-out's bound (the rate limit bounds the requests).
  reserved_concurrent_executions = var.caller.reserved_concurrency

  attach_policy_json = true
  policy_json        = data.aws_iam_policy_document.caller.json

  environment = merge(local.tables_environment, {
    LIMITER_TABLE           = aws_dynamodb_table.limiter.name
    FEEDS_PARAMETER         = aws_ssm_parameter.feeds.name
    API_URL                 = var.api_url
    API_TOKEN_SECRET_ARN    = var.secrets.api_token_secret_arn
    RATE_LIMIT              = tostring(var.rate_limit)
    RATE_UTILIZATION        = tostring(var.rate_utilization)
    CONCURRENCY             = tostring(var.caller.concurrency)
    MAX_ATTEMPTS            = tostring(var.caller.max_attempts)
    DEADLINE_MARGIN_SECONDS = tostring(var.caller.deadline_margin)
  })
  log_retention_days = var.log_retention_days

  alarm_actions = local.alarm_actions
  tags          = var.tags
}

resource "aws_lambda_function_event_invoke_config" "caller" {
  function_name                = module.caller.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 6 * 3600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.caller_dlq.arn
    }
  }
}

# -------------------------------------------------------------------------------- DLQ processor

module "dlq_processor" {
  source = "../lambda_service"

  name         = local.names.dlq_processor
  description  = "Lists and redrives the ingest DLQ, the caller's destination DLQ and failed executions (dry run by default)."
  package_path = "${var.package_dir}/csv-dlq-processor.zip"
  handler      = "csv_dlq_processor.handler.lambda_handler"
  timeout      = 300
  memory_size  = 256

  attach_policy_json = true
  policy_json        = data.aws_iam_policy_document.dlq_processor.json

  environment = {
    INGEST_QUEUE_URL     = module.starter.queue_url
    INGEST_DLQ_URL       = module.starter.dlq_url
    CALLER_DLQ_URL       = aws_sqs_queue.caller_dlq.url
    CALLER_FUNCTION_NAME = module.caller.function_name
    STATE_MACHINE_ARN    = local.state_machine_arn
    LOG_LEVEL            = var.log_level
  }
  log_retention_days = var.log_retention_days

  alarm_actions = local.alarm_actions
  tags          = var.tags
}
