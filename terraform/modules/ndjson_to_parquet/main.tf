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

  alarm_actions = concat([aws_sns_topic.alerts.arn], var.alarm_actions)
}

# ------------------------------------------------------------------------------------------- buckets

locals {
  buckets = toset(["input", "manifest", "output", "quarantine", "scripts"])

  # Expiration rules per bucket (prefix => days); a null day count keeps the objects.
  bucket_expirations = {
    input      = { (local.names.landing_prefix) = var.expiration_days.landing }
    manifest   = { (local.names.manifest_prefix) = var.expiration_days.manifests, "logs/" = var.expiration_days.logs }
    quarantine = { "quarantine/" = var.expiration_days.quarantine }
    output     = {}
    scripts    = {}
  }
}

resource "aws_s3_bucket" "this" {
  for_each = local.buckets

  bucket        = "${local.prefix}-${each.key}-${local.env}-${local.account_id}"
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = local.buckets

  bucket                  = aws_s3_bucket.this[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

data "aws_iam_policy_document" "tls_only" {
  for_each = local.buckets

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this[each.key].arn,
      "${aws_s3_bucket.this[each.key].arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "tls_only" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  policy = data.aws_iam_policy_document.tls_only[each.key].json

  # S3 refuses a bucket policy while the public access block is being written.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  dynamic "rule" {
    for_each = { for prefix, days in local.bucket_expirations[each.key] : prefix => days if days != null }

    content {
      id     = "expire-${trimsuffix(replace(rule.key, "/", "-"), "-")}"
      status = "Enabled"

      filter {
        prefix = rule.key
      }

      expiration {
        days = rule.value
      }
    }
  }
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
      values   = [aws_s3_bucket.this["input"].arn]
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
  bucket = aws_s3_bucket.this["input"].id

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

# A key of our own: CloudWatch alarms cannot publish to a topic encrypted with the AWS managed
# alias/aws/sns key, whose policy cannot grant them.
data "aws_iam_policy_document" "alerts_key" {
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "AlarmsPublish"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "alerts" {
  description             = "Encrypts the ${local.names.topic} SNS topic."
  deletion_window_in_days = 7
  enable_key_rotation     = true
  policy                  = data.aws_iam_policy_document.alerts_key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "alerts" {
  name          = local.names.alerts_key
  target_key_id = aws_kms_key.alerts.key_id
}

resource "aws_sns_topic" "alerts" {
  name              = local.names.topic
  kms_master_key_id = aws_kms_key.alerts.arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "alert_email" {
  count = var.alert_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

# ------------------------------------------------------------------------------------- EventBridge bus

# The bus always exists (it costs nothing idle, and producers or rules of other teams can rely on it);
# the rule that starts the state machine from ManifestReady exists only with eventbridge_enabled.
resource "aws_cloudwatch_event_bus" "etl" {
  name = local.names.bus
  tags = var.tags
}
