# CSV to API (seed 002): S3 (EventBridge notifications) -> rule -> SQS (+DLQ) -> csv-ingest-starter ->
# Step Functions (plan, staggered Map of csv-api-caller under one shared rate limit, report) -> the
# partner API. Alarms -> SNS -> csv-alert-manager -> SMTP; logs -> csv-log-forwarder -> Splunk HEC;
# metrics -> Dynatrace (switch). Names, messages and the runbook: docs/csv_to_api.md.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  env        = var.environment
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  prefix     = "${var.project}-csv"

  names = {
    upload_bucket    = "${local.prefix}-upload-${local.env}-${local.account_id}"
    results_bucket   = "${local.prefix}-results-${local.env}-${local.account_id}"
    ingest_queue     = "${local.prefix}-ingest-${local.env}"
    ingest_dlq       = "${local.prefix}-ingest-dlq-${local.env}"
    caller_dlq       = "${local.prefix}-caller-dlq-${local.env}"
    forwarder_dlq    = "${local.prefix}-log-forwarder-dlq-${local.env}"
    starter          = "${local.prefix}-ingest-starter-${local.env}"
    planner          = "${local.prefix}-file-planner-${local.env}"
    caller           = "${local.prefix}-api-caller-${local.env}"
    dlq_processor    = "${local.prefix}-dlq-processor-${local.env}"
    alert_manager    = "${local.prefix}-alert-manager-${local.env}"
    log_forwarder    = "${local.prefix}-log-forwarder-${local.env}"
    files_table      = "${local.prefix}-files-${local.env}"
    rows_table       = "${local.prefix}-rows-${local.env}"
    limiter_table    = "${local.prefix}-limiter-${local.env}"
    alerts_table     = "${local.prefix}-alerts-sent-${local.env}"
    state_machine    = "${local.prefix}-file-${local.env}"
    sfn_role         = "${local.prefix}-file-sfn-${local.env}"
    rule             = "${local.prefix}-object-created-${local.env}"
    topic            = "${local.prefix}-alarms-${local.env}"
    topic_key        = "alias/${local.prefix}-alarms-${local.env}"
    feeds_parameter  = "/${var.project}/${local.env}/csv_to_api/feeds"
    dashboard        = "${local.prefix}-pipeline-${local.env}"
    metrics_ns       = "lambda-pipelines/csv_to_api"
    metric_stream    = "${local.prefix}-dynatrace-${local.env}"
    firehose         = "${local.prefix}-dynatrace-${local.env}"
    firehose_backup  = "${local.prefix}-dynatrace-backup-${local.env}-${local.account_id}"
    firehose_role    = "${local.prefix}-dynatrace-firehose-${local.env}"
    metric_role      = "${local.prefix}-dynatrace-stream-${local.env}"
    subscription_tag = "splunk"
  }

  # Known before the resources exist, so the policies and the state machine need no cycles.
  state_machine_arn = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${local.names.state_machine}"
  # Files at once such that their chunks fit the caller's reserved concurrency (at least one file).
  max_files_in_flight = coalesce(var.starter.max_files_in_flight, max(1, floor(var.caller.reserved_concurrency / var.max_concurrency)))

  alarm_actions = concat([module.alarm_topic.arn], var.alarm_actions)
}

# ------------------------------------------------------------------------------------------- buckets

module "bucket" {
  source   = "../s3_bucket"
  for_each = { upload = local.names.upload_bucket, results = local.names.results_bucket }

  name          = each.value
  force_destroy = var.force_destroy
  # Uploads are kept a month after they were processed; reports a year.
  expiration_days = each.key == "upload" ? { (var.incoming_prefix) = 30 } : { "reports/" = 365 }
  tags            = var.tags
}

# Object Created events of the upload bucket go to EventBridge (the rule below picks incoming/*.csv).
resource "aws_s3_bucket_notification" "upload" {
  bucket      = module.bucket["upload"].id
  eventbridge = true
}

resource "aws_cloudwatch_event_rule" "object_created" {
  name        = local.names.rule
  description = "CSV uploads under ${var.incoming_prefix} of the upload bucket -> the ingest queue."
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created"]
    detail = {
      bucket = { name = [module.bucket["upload"].id] }
      object = { key = [{ wildcard = "${var.incoming_prefix}*.csv" }, { wildcard = "${var.incoming_prefix}*.CSV" }] }
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "ingest" {
  rule      = aws_cloudwatch_event_rule.object_created.name
  target_id = "ingest-queue"
  arn       = module.starter.queue_arn
}

data "aws_iam_policy_document" "ingest_queue" {
  statement {
    sid       = "ObjectCreatedRule"
    actions   = ["sqs:SendMessage"]
    resources = [module.starter.queue_arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.object_created.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "ingest" {
  queue_url = module.starter.queue_url
  policy    = data.aws_iam_policy_document.ingest_queue.json
}

# ------------------------------------------------------------------------------------------ the feeds

resource "aws_ssm_parameter" "feeds" {
  #checkov:skip=CKV2_AWS_34:The feeds document is configuration (column names, types, patterns), not a secret; a String parameter lets operators read it without kms:Decrypt.
  name        = local.names.feeds_parameter
  description = "CSV to API feeds by key prefix (docs/csv_to_api/schemas/feeds.schema.json)."
  type        = "String"
  tier        = length(jsonencode({ feeds = var.feeds })) > 4096 ? "Advanced" : "Standard"
  value       = jsonencode({ feeds = var.feeds })
  tags        = var.tags
}

# -------------------------------------------------------------------------------------------- tables

resource "aws_dynamodb_table" "files" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed aws/dynamodb key (server_side_encryption); a customer managed key only adds control this account-local table does not need.
  #checkov:skip=CKV_AWS_28:On by default (point_in_time_recovery = true); only the local root turns it off (the emulator keeps no backups).
  name         = local.names.files_table
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "file_id"
  range_key    = "part"

  attribute {
    name = "file_id"
    type = "S"
  }

  attribute {
    name = "part"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  server_side_encryption {
    enabled = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  tags = var.tags
}

resource "aws_dynamodb_table" "rows" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed aws/dynamodb key (server_side_encryption); a customer managed key only adds control this account-local table does not need.
  #checkov:skip=CKV_AWS_28:On by default (point_in_time_recovery = true); only the local root turns it off (the emulator keeps no backups).
  name         = local.names.rows_table
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "file_id"
  range_key    = "row"

  attribute {
    name = "file_id"
    type = "S"
  }

  attribute {
    name = "row"
    type = "N"
  }

  attribute {
    name = "rejected_in"
    type = "S"
  }

  # Sparse: only rejected rows carry rejected_in, so the report reads them without the accepted ones.
  global_secondary_index {
    name            = "rejects"
    hash_key        = "rejected_in"
    range_key       = "row"
    projection_type = "ALL"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  server_side_encryption {
    enabled = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  tags = var.tags
}

resource "aws_dynamodb_table" "limiter" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed aws/dynamodb key (server_side_encryption); a customer managed key only adds control this account-local table does not need.
  #checkov:skip=CKV_AWS_28:Counters of one second each, expired after an hour: nothing to recover.
  name         = local.names.limiter_table
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "slot"

  attribute {
    name = "slot"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  server_side_encryption {
    enabled = true
  }

  tags = var.tags
}

# ------------------------------------------------------------------------------------- alarm topic

# Every alarm of the pipeline notifies this topic; the alert manager e-mails from it.
module "alarm_topic" {
  source = "../sns_topic"

  name      = local.names.topic
  key_alias = local.names.topic_key
  tags      = var.tags
}
