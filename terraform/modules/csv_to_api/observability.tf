# Logs -> Splunk (a subscription filter on each function's log group -> csv-log-forwarder -> HEC), the
# dashboard, and the Dynatrace switch (CloudWatch metric stream -> Firehose -> Dynatrace).

locals {
  splunk_enabled = var.log_forwarding != null ? var.log_forwarding : var.secrets.hec_secret_arn != null
  forwarded_log_groups = {
    starter       = module.starter.log_group_name
    planner       = module.planner.log_group_name
    caller        = module.caller.log_group_name
    dlq_processor = module.dlq_processor.log_group_name
    alert_manager = module.alert_manager.log_group_name
  }
}

resource "aws_sqs_queue" "forwarder_dlq" {
  count = local.splunk_enabled ? 1 : 0

  name                      = local.names.forwarder_dlq
  message_retention_seconds = 14 * 86400
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

module "log_forwarder" {
  source = "../lambda_service"
  count  = local.splunk_enabled ? 1 : 0

  name         = local.names.log_forwarder
  description  = "Forwards the pipeline's CloudWatch Logs to Splunk HEC (batched, retried, TLS verified)."
  package_path = "${var.package_dir}/csv-log-forwarder.zip"
  handler      = "csv_log_forwarder.handler.lambda_handler"
  timeout      = 60
  memory_size  = 256

  attach_policy_json = true
  policy_json        = data.aws_iam_policy_document.log_forwarder[0].json

  environment = {
    HEC_SECRET_ARN  = var.secrets.hec_secret_arn
    SOURCETYPE      = "aws:lambda"
    MAX_BATCH_BYTES = tostring(512 * 1024)
    LOG_LEVEL       = var.log_level
  }
  log_retention_days = var.log_retention_days

  alarm_actions = local.alarm_actions
  tags          = var.tags
}

data "aws_iam_policy_document" "log_forwarder" {
  count = local.splunk_enabled ? 1 : 0

  statement {
    sid       = "ReadHecSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.secrets.hec_secret_arn]
  }

  statement {
    sid       = "OnFailureDestination"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.forwarder_dlq[0].arn]
  }
}

resource "aws_lambda_function_event_invoke_config" "log_forwarder" {
  count = local.splunk_enabled ? 1 : 0

  function_name                = module.log_forwarder[0].function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 6 * 3600 # AWS's default, said: a plan then compares like with like

  destination_config {
    on_failure {
      destination = aws_sqs_queue.forwarder_dlq[0].arn
    }
  }
}

resource "aws_lambda_permission" "log_forwarder" {
  for_each = local.splunk_enabled ? local.forwarded_log_groups : {}

  statement_id  = "Logs-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = module.log_forwarder[0].function_name
  principal     = "logs.amazonaws.com"
  source_arn    = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${each.value}:*"
}

resource "aws_cloudwatch_log_subscription_filter" "splunk" {
  for_each = local.splunk_enabled ? local.forwarded_log_groups : {}

  name            = local.names.subscription_tag
  log_group_name  = each.value
  filter_pattern  = ""
  destination_arn = module.log_forwarder[0].function_arn

  depends_on = [aws_lambda_permission.log_forwarder]
}

# ------------------------------------------------------------------------------------------ dashboard

resource "aws_cloudwatch_dashboard" "pipeline" {
  dashboard_name = local.names.dashboard
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title   = "Rows", region = local.region, stat = "Sum", period = 60
          metrics = [for name in ["RowsAccepted", "RowsAlreadyAccepted", "RowsRejected"] : [local.names.metrics_ns, name, "service", "csv-api-caller"]]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title   = "Requests (per minute: the limit is ${var.rate_limit}/s)", region = local.region, stat = "Sum", period = 60
          metrics = [for name in ["RequestsSent", "RequestsRetried", "RateLimited"] : [local.names.metrics_ns, name, "service", "csv-api-caller"]]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title   = "API latency (ms) and limiter waits (s)", region = local.region, stat = "Average", period = 60
          metrics = [for name in ["ApiLatencyP50", "ApiLatencyP99", "LimiterWaitSeconds"] : [local.names.metrics_ns, name, "service", "csv-api-caller"]]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title = "Queues and executions", region = local.region, stat = "Maximum", period = 60
          metrics = [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", local.names.ingest_queue],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", local.names.ingest_dlq],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", local.names.caller_dlq],
            ["AWS/States", "ExecutionsFailed", "StateMachineArn", local.state_machine_arn],
            ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", local.names.caller],
          ]
        }
      },
    ]
  })
}

# ---------------------------------------------------------------------------------- Dynatrace switch

module "dynatrace_backup" {
  source = "../s3_bucket"
  count  = var.dynatrace.enabled ? 1 : 0

  name            = local.names.firehose_backup
  force_destroy   = var.force_destroy
  expiration_days = { "" = 14 }
  tags            = var.tags
}

data "aws_iam_policy_document" "firehose_assume" {
  count = var.dynatrace.enabled ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["firehose.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "firehose" {
  count = var.dynatrace.enabled ? 1 : 0

  name               = local.names.firehose_role
  assume_role_policy = data.aws_iam_policy_document.firehose_assume[0].json
  tags               = var.tags
}

resource "aws_iam_role_policy" "firehose" {
  count = var.dynatrace.enabled ? 1 : 0

  name = "dynatrace"
  role = aws_iam_role.firehose[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = ["s3:PutObject", "s3:GetBucketLocation"], Resource = [module.dynatrace_backup[0].arn, "${module.dynatrace_backup[0].arn}/*"] },
      { Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = [var.dynatrace.token_secret_arn] },
    ]
  })
}

resource "aws_kinesis_firehose_delivery_stream" "dynatrace" {
  #checkov:skip=CKV_AWS_240:Records are encrypted in transit to Dynatrace (HTTPS); at rest only the failed-delivery backup exists, in a bucket encrypted by default (modules/s3_bucket).
  #checkov:skip=CKV_AWS_241:As above: the stream holds metric records in flight only.
  count = var.dynatrace.enabled ? 1 : 0

  name        = local.names.firehose
  destination = "http_endpoint"

  http_endpoint_configuration {
    url                = var.dynatrace.endpoint_url
    name               = "Dynatrace"
    role_arn           = aws_iam_role.firehose[0].arn
    s3_backup_mode     = "FailedDataOnly"
    buffering_size     = 1
    buffering_interval = 60
    retry_duration     = 900

    secrets_manager_configuration {
      enabled    = true
      secret_arn = var.dynatrace.token_secret_arn
      role_arn   = aws_iam_role.firehose[0].arn
    }

    s3_configuration {
      role_arn   = aws_iam_role.firehose[0].arn
      bucket_arn = module.dynatrace_backup[0].arn
    }

    request_configuration {
      content_encoding = "GZIP"
    }
  }

  tags = var.tags
}

data "aws_iam_policy_document" "metric_stream_assume" {
  count = var.dynatrace.enabled ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["streams.metrics.cloudwatch.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "metric_stream" {
  count = var.dynatrace.enabled ? 1 : 0

  name               = local.names.metric_role
  assume_role_policy = data.aws_iam_policy_document.metric_stream_assume[0].json
  tags               = var.tags
}

resource "aws_iam_role_policy" "metric_stream" {
  count = var.dynatrace.enabled ? 1 : 0

  name = "firehose"
  role = aws_iam_role.metric_stream[0].id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["firehose:PutRecord", "firehose:PutRecordBatch"], Resource = aws_kinesis_firehose_delivery_stream.dynatrace[0].arn }]
  })
}

resource "aws_cloudwatch_metric_stream" "dynatrace" {
  count = var.dynatrace.enabled ? 1 : 0

  name          = local.names.metric_stream
  role_arn      = aws_iam_role.metric_stream[0].arn
  firehose_arn  = aws_kinesis_firehose_delivery_stream.dynatrace[0].arn
  output_format = "opentelemetry1.0"

  dynamic "include_filter" {
    for_each = toset(["AWS/Lambda", "AWS/SQS", "AWS/States", local.names.metrics_ns])

    content {
      namespace = include_filter.value
    }
  }

  tags = var.tags
}
