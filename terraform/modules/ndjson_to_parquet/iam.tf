# Least privilege: each principal gets exactly the buckets, prefixes, tables and targets it uses.

locals {
  bucket_arns = { for key in local.buckets : key => module.bucket[key].arn }

  tracking_table_arns = [aws_dynamodb_table.tracking.arn, "${aws_dynamodb_table.tracking.arn}/index/*"]
  # Item writes the shared tracking store makes (conditional puts and updates, batch reads, queries).
  tracking_actions = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:Query",
  ]
}

# ------------------------------------------------------------- manifest-builder, stream-manifest-creator

# What cutting manifests takes: shared by manifest-builder and stream-manifest-creator.
data "aws_iam_policy_document" "manifests" {
  statement {
    sid       = "WriteManifests"
    actions   = ["s3:PutObject"]
    resources = ["${local.bucket_arns.manifest}/${local.names.manifest_prefix}*"]
  }

  statement {
    sid       = "TrackFilesAndManifests"
    actions   = local.tracking_actions
    resources = local.tracking_table_arns
  }

  statement {
    sid       = "CircuitBreaker"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.metrics.arn]
  }

  # START_MODE decides how a manifest starts: the function may do only that one.
  dynamic "statement" {
    for_each = var.eventbridge_enabled ? [] : [1]
    content {
      sid       = "StartProcessing"
      actions   = ["states:StartExecution"]
      resources = [local.state_machine_arn]
    }
  }

  dynamic "statement" {
    for_each = var.eventbridge_enabled ? [1] : []
    content {
      sid       = "AnnounceManifests"
      actions   = ["events:PutEvents"]
      resources = [aws_cloudwatch_event_bus.etl.arn]
    }
  }
}

data "aws_iam_policy_document" "builder" {
  source_policy_documents = [data.aws_iam_policy_document.manifests.json]

  statement {
    sid       = "ReadLandedFiles"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arns.input}/${local.names.landing_prefix}*"]
  }

  # Without ListBucket S3 answers 403 instead of 404 for an object deleted after its event: the
  # builder would quarantine it as unreadable instead of skipping it.
  statement {
    sid       = "TellMissingFromForbidden"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arns.input]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.names.landing_prefix}*"]
    }
  }

  # A large file is copied in parts (multipart copy), so an interrupted copy may be aborted.
  statement {
    sid       = "QuarantineInvalidFiles"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${local.bucket_arns.quarantine}/quarantine/*"]
  }
}

data "aws_iam_policy_document" "stream_creator" {
  source_policy_documents = [data.aws_iam_policy_document.manifests.json]

  statement {
    sid = "ReadTrackingStream"
    actions = [
      "dynamodb:DescribeStream",
      "dynamodb:GetRecords",
      "dynamodb:GetShardIterator",
      "dynamodb:ListStreams",
    ]
    resources = [aws_dynamodb_table.tracking.stream_arn]
  }

  statement {
    sid       = "DeadLetterFailedBatches"
    actions   = ["sqs:SendMessage"]
    resources = [module.builder.dlq_arn]
  }
}

# ------------------------------------------------------------------------------ batch-status-updater

data "aws_iam_policy_document" "status_updater" {
  statement {
    sid       = "ReadManifests"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arns.manifest}/${local.names.manifest_prefix}*"]
  }

  # A missing manifest must read as 404 (ManifestNotFound), not 403.
  statement {
    sid       = "TellMissingFromForbidden"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arns.manifest]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.names.manifest_prefix}*"]
    }
  }

  statement {
    sid       = "UpdateFileRecords"
    actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = local.tracking_table_arns
  }

  statement {
    sid       = "RecordOutcomes"
    actions   = ["dynamodb:PutItem"]
    resources = [aws_dynamodb_table.metrics.arn]
  }
}

# ------------------------------------------------------------------------------------ state machine

data "aws_iam_policy_document" "processor_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "processor" {
  name               = local.names.sfn_role
  assume_role_policy = data.aws_iam_policy_document.processor_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "processor" {
  statement {
    sid       = "ManifestStatus"
    actions   = ["dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.tracking.arn]
  }

  statement {
    sid       = "RunGlueJobs"
    actions   = ["glue:StartJobRun", "glue:GetJobRun"]
    resources = local.glue_job_arns
  }

  statement {
    sid       = "UpdateFileStatuses"
    actions   = ["lambda:InvokeFunction"]
    resources = [module.status_updater.function_arn, "${module.status_updater.function_arn}:*"]
  }

  statement {
    sid       = "Alert"
    actions   = ["sns:Publish"]
    resources = [module.alerts_topic.arn]
  }

  statement {
    sid       = "AlertEncrypted"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = [module.alerts_topic.key_arn]
  }
}

resource "aws_iam_role_policy" "processor" {
  name   = "processor"
  role   = aws_iam_role.processor.id
  policy = data.aws_iam_policy_document.processor.json
}

# --------------------------------------------------------------------------------------------- Glue

data "aws_iam_policy_document" "glue_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "glue" {
  name               = local.names.glue_role
  assume_role_policy = data.aws_iam_policy_document.glue_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "glue" {
  statement {
    sid     = "ReadInputs"
    actions = ["s3:GetObject"]
    resources = [
      "${local.bucket_arns.input}/${local.names.landing_prefix}*",
      "${local.bucket_arns.manifest}/${local.names.manifest_prefix}*",
      "${local.bucket_arns.scripts}/*",
    ]
  }

  # Spark renames its parts out of a temporary prefix (a copy, so a read) as well as writing them.
  statement {
    sid       = "WriteParquet"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${local.bucket_arns.output}/${local.names.output_prefix}*"]
  }

  statement {
    sid       = "WriteRunLogs"
    actions   = ["s3:PutObject"]
    resources = ["${local.bucket_arns.manifest}/logs/glue/*"]
  }

  # Listing, each bucket only under its prefixes: a re-run lists its <manifest_id>-part-* objects to
  # delete those beyond its new count; Spark's S3 filesystem lists its inputs, the manifest and the
  # run log's folder before it reads or creates them.
  dynamic "statement" {
    for_each = {
      ListInputs           = { bucket = "input", prefixes = [local.names.landing_prefix] }
      ListOwnParts         = { bucket = "output", prefixes = [local.names.output_prefix] }
      ListManifestsAndLogs = { bucket = "manifest", prefixes = [local.names.manifest_prefix, "logs/glue/"] }
    }

    content {
      sid       = statement.key
      actions   = ["s3:ListBucket"]
      resources = [local.bucket_arns[statement.value.bucket]]

      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = [for prefix in statement.value.prefixes : "${prefix}*"]
      }
    }
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws-glue/*"]
  }

  statement {
    sid       = "JobMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource type; scoped by namespace

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["Glue"]
    }
  }
}

resource "aws_iam_role_policy" "glue" {
  name   = "glue"
  role   = aws_iam_role.glue.id
  policy = data.aws_iam_policy_document.glue.json
}

# -------------------------------------------------------------------------- EventBridge rule (flag)

data "aws_iam_policy_document" "events_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "events" {
  count = var.eventbridge_enabled ? 1 : 0

  name               = local.names.events_role
  assume_role_policy = data.aws_iam_policy_document.events_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "events" {
  count = var.eventbridge_enabled ? 1 : 0

  name = "start-processor"
  role = aws_iam_role.events[0].id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "states:StartExecution", Resource = aws_sfn_state_machine.processor.arn }]
  })
}

# ------------------------------------------------------------------------------------------- Scheduler

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = local.names.scheduler_role
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name = "invoke-manifest-builder"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "lambda:InvokeFunction", Resource = module.builder.function_arn }]
  })
}
