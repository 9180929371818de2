# The smallest complete pipeline: an SQS-fed worker that records every message it
# processes in a DynamoDB tracking table, exactly once. It is the template the real
# pipelines follow and the subject of the foundation's end-to-end test.

locals {
  prefix = "${var.project}-example"
}

resource "aws_dynamodb_table" "tracking" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed aws/dynamodb key (server_side_encryption); a customer managed key only adds control this account-local table does not need.
  name         = "${local.prefix}-tracking-${var.environment}"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  attribute {
    name = "status"
    type = "S"
  }

  global_secondary_index {
    name            = "status-index"
    hash_key        = "status"
    range_key       = "pk"
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
    enabled = var.environment != "local"
  }

  tags = var.tags
}

data "aws_iam_policy_document" "worker" {
  statement {
    sid       = "TrackMessages"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.tracking.arn, "${aws_dynamodb_table.tracking.arn}/index/*"]
  }
}

module "worker" {
  source = "../lambda_service"

  name         = "${local.prefix}-worker-${var.environment}"
  description  = "Example SQS worker: records each message once in DynamoDB."
  package_path = "${var.package_dir}/example-worker.zip"
  handler      = "example_worker.handler.lambda_handler"
  timeout      = 3

  attach_policy_json = true
  policy_json        = data.aws_iam_policy_document.worker.json

  environment = {
    TRACKING_TABLE = aws_dynamodb_table.tracking.name
    LOG_LEVEL      = var.log_level
  }

  sqs_source = {
    batch_size                         = 10
    maximum_batching_window_in_seconds = 1
    max_receive_count                  = 3
  }

  alarm_actions = var.alarm_actions
  tags          = var.tags
}
