# Alerts to SFTP (seed 000): Airflow -> ALB -> alert-coordinator -> staging (S3 or MySQL) + SQS ->
# sftp-worker -> partner SFTP; finalizer on a schedule. MySQL is the tracker (see migrations/). Names and messages: docs/alerts_to_sftp.md.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  prefix         = "${var.project}-alerts"
  metric_ns      = "LambdaPipelines/Alerts"
  known_hosts    = "arn:aws:ssm:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:parameter/${trimprefix(var.secrets.sftp_known_hosts_parameter, "/")}"
  lambda_network = { subnets = var.network.lambda_subnet_ids, groups = var.network.lambda_security_groups }
}

# ------------------------------------------------------------------------------------ staging bucket

module "staging_bucket" {
  source = "../s3_bucket"

  name            = "${local.prefix}-staging-${var.environment}-${data.aws_caller_identity.current.account_id}"
  force_destroy   = var.environment != "prod"
  expiration_days = { "staged/" = var.staging_expiration_days }
  tags            = var.tags
}

# ------------------------------------------------------------------------------------------ functions

module "coordinator" {
  source = "../lambda_service"

  name         = "${local.prefix}-coordinator-${var.environment}"
  description  = "Fetches a job's alerts, stages and tracks each, queues a pointer per alert."
  package_path = "${var.package_dir}/alert-coordinator.zip"
  handler      = "alert_coordinator.handler.lambda_handler"
  timeout      = 600
  memory_size  = 1024

  attach_policy_json = true
  policy_json        = data.aws_iam_policy_document.coordinator.json

  vpc_subnet_ids         = local.lambda_network.subnets
  vpc_security_group_ids = local.lambda_network.groups

  environment = {
    TRIGGER_SECRET_ARN          = var.secrets.trigger_secret_arn
    MYSQL_SECRET_ARN            = var.secrets.mysql_secret_arn
    ALERTS_API_URL              = var.api_url
    ALERTS_API_TOKEN_SECRET_ARN = var.secrets.api_token_secret_arn
    QUEUE_URL                   = module.worker.queue_url
    STAGING                     = var.staging
    STAGING_BUCKET              = module.staging_bucket.id
    LOG_LEVEL                   = var.log_level
  }

  alarm_actions = var.alarm_actions
  tags          = var.tags
}

module "worker" {
  source = "../lambda_service"

  name         = "${local.prefix}-sftp-worker-${var.environment}"
  description  = "Uploads each queued alert to the partner's SFTP server and marks it completed."
  package_path = "${var.package_dir}/sftp-worker.zip"
  handler      = "sftp_worker.handler.lambda_handler"
  timeout      = var.worker.timeout
  memory_size  = 512

  attach_policy_json = true
  policy_json        = data.aws_iam_policy_document.worker.json

  vpc_subnet_ids         = local.lambda_network.subnets
  vpc_security_group_ids = local.lambda_network.groups

  environment = {
    MYSQL_SECRET_ARN           = var.secrets.mysql_secret_arn
    SFTP_SECRET_ARN            = var.secrets.sftp_secret_arn
    SFTP_KNOWN_HOSTS_PARAMETER = var.secrets.sftp_known_hosts_parameter
    REMOTE_DIR                 = var.sftp_remote_dir
    # Stop starting uploads this long before the timeout (a sixth of it, at least 2 s).
    DEADLINE_MARGIN_SECONDS = tostring(max(2, floor(var.worker.timeout / 6)))
    LOG_LEVEL               = var.log_level
  }

  sqs_source = {
    batch_size                         = var.worker.batch_size
    maximum_batching_window_in_seconds = var.worker.maximum_batching_window_in_seconds
    maximum_concurrency                = var.worker.maximum_concurrency
    max_receive_count                  = var.worker.max_receive_count
  }

  alarm_actions = var.alarm_actions
  tags          = var.tags
}

module "finalizer" {
  source = "../lambda_service"

  name         = "${local.prefix}-finalizer-${var.environment}"
  description  = "Finalizes jobs whose alerts are all on the SFTP server; reports stuck and dead-lettered alerts."
  package_path = "${var.package_dir}/alerts-finalizer.zip"
  handler      = "alerts_finalizer.handler.lambda_handler"
  timeout      = 60

  # Two finalizers at once are safe, but one is enough.
  reserved_concurrent_executions = 1

  attach_policy_json = true
  policy_json        = data.aws_iam_policy_document.finalizer.json

  vpc_subnet_ids         = local.lambda_network.subnets
  vpc_security_group_ids = local.lambda_network.groups

  environment = {
    MYSQL_SECRET_ARN    = var.secrets.mysql_secret_arn
    DLQ_URL             = module.worker.dlq_url
    METRIC_NAMESPACE    = local.metric_ns
    STUCK_AFTER_SECONDS = tostring(var.stuck_after_seconds)
    LOG_LEVEL           = var.log_level
  }

  alarm_actions = var.alarm_actions
  tags          = var.tags
}

# ------------------------------------------------------------------------------------- schema migrations

module "migrate" {
  source = "../lambda_service"

  name         = "${local.prefix}-migrate-${var.environment}"
  description  = "Applies the alerts schema's pending migrations; invoked by Terraform on every change."
  package_path = "${var.package_dir}/alerts-migrate.zip"
  handler      = "alerts_migrate.handler.lambda_handler"
  timeout      = 300

  attach_policy_json = true
  policy_json        = data.aws_iam_policy_document.migrate.json

  vpc_subnet_ids         = local.lambda_network.subnets
  vpc_security_group_ids = local.lambda_network.groups

  environment = {
    MYSQL_SECRET_ARN = var.secrets.mysql_secret_arn
    LOG_LEVEL        = var.log_level
  }

  alarm_actions = var.alarm_actions
  tags          = var.tags
}

# The schema is migrated before the functions that use it take traffic; a new zip (new migrations)
# runs it again, and the runner applies only what is pending.
resource "aws_lambda_invocation" "migrate" {
  function_name = module.migrate.function_name
  input         = jsonencode({ reason = "terraform apply" })

  triggers = {
    package = filebase64sha256("${var.package_dir}/alerts-migrate.zip")
  }
}
