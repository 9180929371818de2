data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name}-role"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# Logging and queue access are scoped to this function's own log group and queue.
data "aws_iam_policy_document" "base" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # Active tracing: Lambda sends the function's segments with the function's role. X-Ray's write
  # actions have no resource type, so they cannot be scoped further.
  dynamic "statement" {
    for_each = var.tracing_mode == "Active" ? [1] : []

    content {
      sid       = "WriteTraces"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = var.sqs_source == null ? [] : [1]

    content {
      sid       = "ConsumeOwnQueue"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
      resources = [aws_sqs_queue.this[0].arn]
    }
  }

  dynamic "statement" {
    for_each = var.sqs_source != null && try(var.sqs_source.kms_master_key_id, null) != null ? [1] : []

    content {
      sid       = "DecryptOwnQueue"
      actions   = ["kms:Decrypt"]
      resources = [var.sqs_source.kms_master_key_id]
    }
  }
}

resource "aws_iam_role_policy" "base" {
  name   = "base"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.base.json
}

resource "aws_iam_role_policy" "service" {
  count = var.attach_policy_json ? 1 : 0

  name   = "service"
  role   = aws_iam_role.this.id
  policy = var.policy_json
}

# Network interfaces for a function in a VPC (the AWS managed policy made for exactly this).
resource "aws_iam_role_policy_attachment" "vpc" {
  count = length(var.vpc_subnet_ids) == 0 ? 0 : 1

  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

data "aws_partition" "current" {}
