# NDJSON to Parquet (seed 001): S3 landing -> SQS -> manifest-builder (DynamoDB tracking, manifests)
# -> Step Functions -> Glue (Python shell, or Spark for large manifests) -> batch-status-updater;
# SNS alerts, CloudWatch alarms and dashboard. Names, layout and messages: docs/ndjson_to_parquet.md.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  prefix     = var.name_prefix
  env        = var.environment
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  glue_dir = coalesce(var.glue_artifact_dir, "${var.package_dir}/glue")

  names = {
    file_events     = "${local.prefix}-file-events-${local.env}"
    dlq             = "${local.prefix}-dlq-${local.env}"
    builder         = "${local.prefix}-manifest-builder-${local.env}"
    status_updater  = "${local.prefix}-batch-status-updater-${local.env}"
    stream_creator  = "${local.prefix}-stream-manifest-creator-${local.env}"
    tracking_table  = "${local.prefix}-sqs-file-tracking-${local.env}"
    metrics_table   = "${local.prefix}-sqs-metrics-${local.env}"
    state_machine   = "${local.prefix}-processor-${local.env}"
    batch_job       = "${local.prefix}-batch-job-${local.env}"
    spark_job       = "${local.prefix}-spark-job-${local.env}"
    bus             = "${local.prefix}-etl-${local.env}"
    topic           = "${local.prefix}-alerts-${local.env}"
    dashboard       = "${local.prefix}-pipeline-${local.env}"
    flush_schedule  = "${local.prefix}-flush-${local.env}"
    manifest_rule   = "${local.prefix}-manifest-ready-${local.env}"
    sfn_role        = "${local.prefix}-processor-${local.env}"
    glue_role       = "${local.prefix}-glue-${local.env}"
    events_role     = "${local.prefix}-events-${local.env}"
    scheduler_role  = "${local.prefix}-scheduler-${local.env}"
    alerts_key      = "alias/${local.prefix}-alerts-${local.env}"
    event_source    = "lambda-pipelines.ndjson-parquet"
    event_type      = "ManifestReady"
    landing_prefix  = "landing/ndjson/"
    manifest_prefix = "manifests/"
    output_prefix   = "pipeline/output/"
  }

  # ARNs known before the resources exist, so policies and the state machine need no cycles.
  state_machine_arn = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${local.names.state_machine}"
  glue_job_arns = [
    "arn:${local.partition}:glue:${local.region}:${local.account_id}:job/${local.names.batch_job}",
    "arn:${local.partition}:glue:${local.region}:${local.account_id}:job/${local.names.spark_job}",
  ]

  alarm_actions = concat([module.alerts_topic.arn], var.alarm_actions)
}

# ------------------------------------------------------------------------------------------- buckets

locals {
  buckets = toset(["input", "manifest", "output", "quarantine", "scripts"])

  # Expiration rules per bucket (prefix => days); 0 days keeps the objects.
  bucket_expirations = {
    input      = { (local.names.landing_prefix) = var.expiration_days.landing }
    manifest   = { (local.names.manifest_prefix) = var.expiration_days.manifests, "logs/" = var.expiration_days.logs }
    quarantine = { "quarantine/" = var.expiration_days.quarantine }
    output     = {}
    scripts    = {}
  }
}

module "bucket" {
  source   = "../s3_bucket"
  for_each = local.buckets

  name            = "${local.prefix}-${each.key}-${local.env}-${local.account_id}"
  force_destroy   = var.force_destroy
  expiration_days = local.bucket_expirations[each.key]
  tags            = var.tags
}

# ------------------------------------------------------------------- landing events -> file-events queue

data "aws_iam_policy_document" "file_events" {
  statement {
    sid       = "LandingBucketNotifications"
    actions   = ["sqs:SendMessage"]
    resources = [module.builder.queue_arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [module.bucket["input"].arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sqs_queue_policy" "file_events" {
  queue_url = module.builder.queue_url
  policy    = data.aws_iam_policy_document.file_events.json
}

resource "aws_s3_bucket_notification" "landing" {
  bucket = module.bucket["input"].id

  # Every object under the landing prefix: one with a wrong extension is quarantined with a reason
  # (bad_extension) rather than silently never looked at.
  queue {
    id            = "landing-ndjson"
    queue_arn     = module.builder.queue_arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = local.names.landing_prefix
  }

  # S3 checks that it may send to the queue when the notification is written.
  depends_on = [aws_sqs_queue_policy.file_events]
}

# -------------------------------------------------------------------------------------------- tables

resource "aws_dynamodb_table" "tracking" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed aws/dynamodb key (server_side_encryption); a customer managed key only adds control this account-local table does not need.
  #checkov:skip=CKV_AWS_28:On by default (point_in_time_recovery = true); only the local root turns it off (the emulator keeps no backups).
  name                        = local.names.tracking_table
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "date_prefix"
  range_key                   = "file_key"
  stream_enabled              = true
  stream_view_type            = "NEW_AND_OLD_IMAGES"
  deletion_protection_enabled = var.table_deletion_protection

  attribute {
    name = "date_prefix"
    type = "S"
  }

  attribute {
    name = "file_key"
    type = "S"
  }

  attribute {
    name = "status"
    type = "S"
  }

  # Statuses are sharded by the services (pending#0..pending#9, ...), so no GSI key is hot.
  global_secondary_index {
    name            = "status-index"
    hash_key        = "status"
    range_key       = "date_prefix"
    projection_type = "ALL"
  }

  ttl {
    attribute_name = "ttl"
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

resource "aws_dynamodb_table" "metrics" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed aws/dynamodb key (server_side_encryption); a customer managed key only adds control this account-local table does not need.
  #checkov:skip=CKV_AWS_28:On by default (point_in_time_recovery = true); only the local root turns it off (the emulator keeps no backups).
  name                        = local.names.metrics_table
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.table_deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  ttl {
    attribute_name = "ttl"
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

# -------------------------------------------------------------------------------------- alert topic

# Encrypted with a key of its own that CloudWatch alarms may use (see modules/sns_topic).
module "alerts_topic" {
  source = "../sns_topic"

  name      = local.names.topic
  key_alias = local.names.alerts_key
  email     = var.alert_email
  tags      = var.tags
}

# ------------------------------------------------------------------------------------- EventBridge bus

# The bus always exists (it costs nothing idle, and producers or rules of other teams can rely on it);
# the rule that starts the state machine from ManifestReady exists only with eventbridge_enabled.
resource "aws_cloudwatch_event_bus" "etl" {
  name = local.names.bus
  tags = var.tags
}
