# Alarms -> the pipeline's topic -> csv-alert-manager -> one e-mail per alarm state change over SMTP.

resource "aws_dynamodb_table" "alerts_sent" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed aws/dynamodb key (server_side_encryption); a customer managed key only adds control this account-local table does not need.
  #checkov:skip=CKV_AWS_28:Idempotency records that expire within a day: nothing to recover.
  name         = local.names.alerts_table
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"

  attribute {
    name = "id"
    type = "S"
  }

  # Powertools idempotency records carry their expiry in "expiration".
  ttl {
    attribute_name = "expiration"
    enabled        = true
  }

  server_side_encryption {
    enabled = true
  }

  tags = var.tags
}

module "alert_manager" {
  source = "../lambda_service"

  name         = local.names.alert_manager
  description  = "E-mails each alarm state change once (SMTP with STARTTLS; credentials from Secrets Manager)."
  package_path = "${var.package_dir}/csv-alert-manager.zip"
  handler      = "csv_alert_manager.handler.lambda_handler"
  timeout      = 60
  memory_size  = 256

  attach_policy_json = true
  policy_json        = data.aws_iam_policy_document.alert_manager.json

  environment = {
    SMTP_SECRET_ARN   = var.secrets.smtp_secret_arn
    IDEMPOTENCY_TABLE = aws_dynamodb_table.alerts_sent.name
    ENVIRONMENT       = local.env
    RUNBOOK_URL       = var.runbook_url
    LOG_LEVEL         = var.log_level
  }
  log_retention_days = var.log_retention_days

  # Its own errors alarm would notify the topic it reads: the stack's topic only, no loop.
  alarm_actions = var.alarm_actions
  tags          = var.tags
}

data "aws_iam_policy_document" "alert_manager" {
  statement {
    sid       = "ReadSmtpSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.secrets.smtp_secret_arn]
  }

  statement {
    sid       = "Idempotency"
    actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.alerts_sent.arn]
  }
}

resource "aws_lambda_permission" "alert_manager" {
  statement_id  = "AlarmTopic"
  action        = "lambda:InvokeFunction"
  function_name = module.alert_manager.function_name
  principal     = "sns.amazonaws.com"
  source_arn    = module.alarm_topic.arn
}

resource "aws_sns_topic_subscription" "alert_manager" {
  topic_arn = module.alarm_topic.arn
  protocol  = "lambda"
  endpoint  = module.alert_manager.function_arn

  depends_on = [aws_lambda_permission.alert_manager]
}
