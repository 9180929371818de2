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

module "ndjson_parquet" {
  source = "../ndjson_parquet_pipeline"
  count  = var.ndjson_parquet.enabled ? 1 : 0

  environment                   = var.environment
  package_dir                   = var.package_dir
  log_level                     = var.log_level
  alert_email                   = var.ndjson_parquet.alert_email
  force_destroy                 = var.ndjson_parquet.force_destroy
  point_in_time_recovery        = var.ndjson_parquet.point_in_time_recovery
  table_deletion_protection     = var.ndjson_parquet.table_deletion_protection
  stream_manifests_enabled      = var.ndjson_parquet.stream_manifests_enabled
  eventbridge_enabled           = var.ndjson_parquet.eventbridge_enabled
  flush_interval_minutes        = var.ndjson_parquet.flush_interval_minutes
  max_files_per_manifest        = var.ndjson_parquet.max_files_per_manifest
  max_bytes_per_manifest        = var.ndjson_parquet.max_bytes_per_manifest
  orphan_after_seconds          = var.ndjson_parquet.orphan_after_seconds
  max_file_bytes                = var.ndjson_parquet.max_file_bytes
  spark_threshold_bytes         = var.ndjson_parquet.spark_threshold_bytes
  breaker_failure_threshold     = var.ndjson_parquet.breaker_failure_threshold
  breaker_window_seconds        = var.ndjson_parquet.breaker_window_seconds
  glue_max_capacity             = var.ndjson_parquet.glue_max_capacity
  glue_timeout_minutes          = var.ndjson_parquet.glue_timeout_minutes
  spark_timeout_minutes         = var.ndjson_parquet.spark_timeout_minutes
  spark_worker_type             = var.ndjson_parquet.spark_worker_type
  spark_number_of_workers       = var.ndjson_parquet.spark_number_of_workers
  glue_max_concurrent_runs      = var.ndjson_parquet.glue_max_concurrent_runs
  glue_extra_arguments          = var.ndjson_parquet.glue_extra_arguments
  glue_poll_seconds             = var.ndjson_parquet.glue_poll_seconds
  concurrent_runs_retry_seconds = var.ndjson_parquet.concurrent_runs_retry_seconds
  retry_interval_seconds        = var.ndjson_parquet.retry_interval_seconds
  expiration_days               = var.ndjson_parquet.expiration_days
  builder                       = var.ndjson_parquet.builder
  status_updater                = var.ndjson_parquet.status_updater
  # Its alarms notify the stack's topic too (alarm_email); per-manifest failure alerts go to the
  # pipeline's own topic only (ndjson_parquet.alert_email).
  alarm_actions = [aws_sns_topic.alarms.arn]
  tags          = local.tags
}
