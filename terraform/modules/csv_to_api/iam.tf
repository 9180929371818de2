# Least privilege: each function may touch only its own tables, buckets, queues and secrets.

locals {
  files_arns = [aws_dynamodb_table.files.arn]
  rows_arns  = [aws_dynamodb_table.rows.arn, "${aws_dynamodb_table.rows.arn}/index/rejects"]
}

data "aws_iam_policy_document" "starter" {
  statement {
    sid       = "RecordFiles"
    actions   = ["dynamodb:PutItem", "dynamodb:GetItem"]
    resources = local.files_arns
  }

  statement {
    sid       = "StartFileExecutions"
    actions   = ["states:StartExecution", "states:ListExecutions"]
    resources = [local.state_machine_arn]
  }

  # A file over max_files_in_flight goes back to its own queue, delayed.
  statement {
    sid       = "DeferFiles"
    actions   = ["sqs:GetQueueUrl", "sqs:SendMessage"]
    resources = ["arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.names.ingest_queue}"]
  }

  statement {
    sid       = "HeadUploads"
    actions   = ["s3:GetObject"]
    resources = ["${module.bucket["upload"].arn}/${var.incoming_prefix}*"]
  }
}

data "aws_iam_policy_document" "planner" {
  statement {
    sid       = "ReadUploads"
    actions   = ["s3:GetObject"]
    resources = ["${module.bucket["upload"].arn}/${var.incoming_prefix}*"]
  }

  statement {
    sid       = "WriteReports"
    actions   = ["s3:PutObject"]
    resources = ["${module.bucket["results"].arn}/reports/*"]
  }

  statement {
    sid       = "FileStatus"
    actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = local.files_arns
  }

  statement {
    sid       = "ReadRejects"
    actions   = ["dynamodb:Query"]
    resources = local.rows_arns
  }

  statement {
    sid       = "ReadFeeds"
    actions   = ["ssm:GetParameter"]
    resources = [aws_ssm_parameter.feeds.arn]
  }
}

data "aws_iam_policy_document" "caller" {
  statement {
    sid       = "ReadUploads"
    actions   = ["s3:GetObject"]
    resources = ["${module.bucket["upload"].arn}/${var.incoming_prefix}*"]
  }

  # A redriven chunk rewrites its file's report when it completes.
  statement {
    sid       = "WriteReports"
    actions   = ["s3:PutObject"]
    resources = ["${module.bucket["results"].arn}/reports/*"]
  }

  statement {
    sid       = "RowOutcomes"
    actions   = ["dynamodb:Query", "dynamodb:BatchWriteItem"]
    resources = local.rows_arns
  }

  statement {
    sid       = "FileStatus"
    actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = local.files_arns
  }

  statement {
    sid       = "SharedRateLimit"
    actions   = ["dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.limiter.arn]
  }

  statement {
    sid       = "ReadFeeds"
    actions   = ["ssm:GetParameter"]
    resources = [aws_ssm_parameter.feeds.arn]
  }

  statement {
    sid       = "ReadApiToken"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.secrets.api_token_secret_arn]
  }

  # A redriven chunk runs outside the state machine: when it stops before its deadline with rows left, it
  # invokes itself (asynchronously) with the resume point, as the state machine's Resume loop would.
  statement {
    sid       = "ResumeItself"
    actions   = ["lambda:InvokeFunction"]
    resources = ["arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.names.caller}"]
  }

  # Lambda delivers the on-failure destination record with the function's own role.
  statement {
    sid       = "OnFailureDestination"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.caller_dlq.arn]
  }
}

data "aws_iam_policy_document" "dlq_processor" {
  statement {
    sid       = "DrainDeadLetters"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
    resources = [module.starter.dlq_arn, aws_sqs_queue.caller_dlq.arn]
  }

  statement {
    sid       = "RedriveToIngest"
    actions   = ["sqs:SendMessage"]
    resources = [module.starter.queue_arn]
  }

  statement {
    sid       = "RedriveToCaller"
    actions   = ["lambda:InvokeFunction"]
    resources = [module.caller.function_arn]
  }

  statement {
    sid       = "RedriveExecutions"
    actions   = ["states:ListExecutions", "states:StartExecution"]
    resources = [local.state_machine_arn]
  }

  statement {
    sid       = "ReadFailedExecutions"
    actions   = ["states:DescribeExecution"]
    resources = ["arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${local.names.state_machine}:*"]
  }
}

# ------------------------------------------------------------------------------ state machine role

data "aws_iam_policy_document" "sfn_assume" {
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

resource "aws_iam_role" "file_sfn" {
  name               = local.names.sfn_role
  assume_role_policy = data.aws_iam_policy_document.sfn_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "file_sfn" {
  statement {
    sid     = "InvokeSteps"
    actions = ["lambda:InvokeFunction"]
    resources = [
      module.planner.function_arn, "${module.planner.function_arn}:*",
      module.caller.function_arn, "${module.caller.function_arn}:*",
    ]
  }

  statement {
    sid       = "ParkChunks"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.caller_dlq.arn]
  }
}

resource "aws_iam_role_policy" "file_sfn" {
  name   = "file"
  role   = aws_iam_role.file_sfn.id
  policy = data.aws_iam_policy_document.file_sfn.json
}
