# Least privilege: each function gets exactly the secrets, bucket prefix, queues and bus it uses; the
# scheduler may invoke the finalizer only.

# ------------------------------------------------------------------------------------- alert-coordinator

data "aws_iam_policy_document" "coordinator" {
  statement {
    sid       = "ReadSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.secrets.trigger_secret_arn, var.secrets.api_token_secret_arn, var.secrets.mysql_secret_arn]
  }

  statement {
    sid       = "StageAlerts"
    actions   = ["s3:PutObject"]
    resources = ["${module.staging_bucket.arn}/staged/*"]
  }

  statement {
    sid       = "QueuePointers"
    actions   = ["sqs:SendMessage"]
    resources = [module.worker.queue_arn]
  }
}

# ------------------------------------------------------------------------------------------- sftp-worker

data "aws_iam_policy_document" "worker" {
  statement {
    sid       = "ReadSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.secrets.mysql_secret_arn, var.secrets.sftp_secret_arn]
  }

  statement {
    sid       = "ReadKnownHosts"
    actions   = ["ssm:GetParameter"]
    resources = [local.known_hosts]
  }

  statement {
    sid       = "ReadStagedAlerts"
    actions   = ["s3:GetObject"]
    resources = ["${module.staging_bucket.arn}/staged/*"]
  }
}

# --------------------------------------------------------------------------------------------- finalizer

data "aws_iam_policy_document" "finalizer" {
  statement {
    sid       = "ReadSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.secrets.mysql_secret_arn]
  }

  statement {
    sid       = "PeekDeadLetters"
    actions   = ["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"]
    resources = [module.worker.dlq_arn]
  }

  statement {
    sid       = "AnnounceFinalizedJobs"
    actions   = ["events:PutEvents"]
    resources = ["arn:aws:events:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:event-bus/default"]
  }

  statement {
    sid       = "PublishMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource type; scoped by namespace below

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [local.metric_ns]
    }
  }
}

# -------------------------------------------------------------------------------------- alerts-migrate

data "aws_iam_policy_document" "migrate" {
  statement {
    sid       = "ReadDatabaseSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.secrets.mysql_secret_arn]
  }
}

# --------------------------------------------------------------------------------------------- Scheduler

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    # Only this account's schedules may assume it (no confused deputy).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${local.prefix}-scheduler-${var.environment}"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name = "invoke-finalizer"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "lambda:InvokeFunction", Resource = module.finalizer.function_arn }]
  })
}
