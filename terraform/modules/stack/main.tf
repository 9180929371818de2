# Everything one environment runs. The environment roots only configure the provider,
# the backend and these inputs, so local, dev, staging and prod deploy the same graph.

locals {
  tags = merge({ Project = var.project, Environment = var.environment, ManagedBy = "terraform" }, var.tags)
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.project}-alarms-${var.environment}"
  kms_master_key_id = "alias/aws/sns"
  tags              = local.tags
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

module "example" {
  source = "../example_pipeline"

  project       = var.project
  environment   = var.environment
  package_dir   = var.package_dir
  log_level     = var.log_level
  alarm_actions = [aws_sns_topic.alarms.arn]
  tags          = local.tags
}

module "alerts" {
  source = "../alerts_pipeline"

  project            = var.project
  environment        = var.environment
  package_dir        = var.package_dir
  log_level          = var.log_level
  alerts_api_url     = var.alerts.api_url
  staging            = var.alerts.staging
  sftp_remote_dir    = var.alerts.sftp_remote_dir
  finalizer_schedule = var.alerts.finalizer_schedule
  worker             = var.alerts.worker
  secrets            = var.alerts.secrets
  network            = var.alerts.network
  alarm_actions      = [aws_sns_topic.alarms.arn]
  tags               = local.tags
}
