locals {
  has_queue = var.sqs_source != null
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest; the services log no secret (settings hold secret ARNs, never values), so a key per log group would add key policies and cost without protecting anything more.
  #checkov:skip=CKV_AWS_338:Retention is the caller's choice per environment (log_retention_days, 30 days by default); audit history is CloudTrail's, not the functions' debug logs.
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Queue-fed functions dead-letter through their queue's redrive policy (sqs_source); the others are invoked synchronously (ALB, Step Functions, Terraform) or by a schedule whose next run is the retry, so an async DLQ would stay empty.
  #checkov:skip=CKV_AWS_173:The environment holds names and secret ARNs, never secret values (pipelines_shared.settings reads Secrets Manager / SSM at cold start); Lambda encrypts it at rest with its service key.
  #checkov:skip=CKV_AWS_272:Zips are built reproducibly by `make build` from the reviewed commit and uploaded by Terraform itself (source_code_hash); there is no separate publisher whose uploads a Signer profile would need to vouch for.
  function_name                  = var.name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  filename                       = var.package_path
  source_code_hash               = filebase64sha256(var.package_path)
  handler                        = var.handler
  runtime                        = var.runtime
  architectures                  = [var.architecture]
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions

  dynamic "environment" {
    for_each = length(var.environment) == 0 ? [] : [1]

    content {
      variables = var.environment
    }
  }

  dynamic "vpc_config" {
    for_each = length(var.vpc_subnet_ids) == 0 ? [] : [1]

    content {
      subnet_ids         = var.vpc_subnet_ids
      security_group_ids = var.vpc_security_group_ids
    }
  }

  tracing_config {
    mode = var.tracing_mode
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = var.tags

  # The role's policies must exist before the first invocation can log or poll.
  depends_on = [aws_iam_role_policy.base, aws_iam_role_policy.service, aws_iam_role_policy_attachment.vpc]
}

resource "aws_sqs_queue" "dlq" {
  count = local.has_queue ? 1 : 0

  name                              = coalesce(var.sqs_source.dlq_name, "${var.name}-dlq")
  message_retention_seconds         = var.sqs_source.dlq_message_retention_seconds
  sqs_managed_sse_enabled           = var.sqs_source.kms_master_key_id == null ? true : null
  kms_master_key_id                 = var.sqs_source.kms_master_key_id
  kms_data_key_reuse_period_seconds = var.sqs_source.kms_master_key_id == null ? null : 300
  tags                              = var.tags
}

resource "aws_sqs_queue" "this" {
  count = local.has_queue ? 1 : 0

  name = coalesce(var.sqs_source.queue_name, "${var.name}-queue")
  # AWS guidance: at least 6 x the function timeout, so a message is not redelivered while a
  # (retried) invocation still holds it.
  visibility_timeout_seconds        = coalesce(var.sqs_source.visibility_timeout_seconds, 6 * var.timeout)
  receive_wait_time_seconds         = var.sqs_source.receive_wait_time_seconds
  message_retention_seconds         = var.sqs_source.message_retention_seconds
  sqs_managed_sse_enabled           = var.sqs_source.kms_master_key_id == null ? true : null
  kms_master_key_id                 = var.sqs_source.kms_master_key_id
  kms_data_key_reuse_period_seconds = var.sqs_source.kms_master_key_id == null ? null : 300

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[0].arn
    maxReceiveCount     = var.sqs_source.max_receive_count
  })

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.sqs_source.visibility_timeout_seconds == null ? true : (var.sqs_source.visibility_timeout_seconds >= 6 * var.timeout && var.sqs_source.visibility_timeout_seconds <= 43200)
      error_message = "sqs_source.visibility_timeout_seconds must be at least 6 x timeout (AWS guidance for Lambda sources) and at most 43200."
    }
  }
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  count = local.has_queue ? 1 : 0

  queue_url = aws_sqs_queue.dlq[0].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this[0].arn]
  })
}

resource "aws_lambda_event_source_mapping" "sqs" {
  count = local.has_queue ? 1 : 0

  event_source_arn                   = aws_sqs_queue.this[0].arn
  function_name                      = aws_lambda_function.this.arn
  batch_size                         = var.sqs_source.batch_size
  maximum_batching_window_in_seconds = var.sqs_source.maximum_batching_window_in_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  dynamic "scaling_config" {
    for_each = var.sqs_source.maximum_concurrency == null ? [] : [1]

    content {
      maximum_concurrency = var.sqs_source.maximum_concurrency
    }
  }
}
