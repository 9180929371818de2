# Everything one environment runs. The environment roots only configure the provider,
# the backend and these inputs, so local, dev, staging and prod deploy the same graph.

locals {
  tags = merge({ Project = var.project, Environment = var.environment, ManagedBy = "terraform" }, var.tags)
}

# Every alarm of every pipeline notifies this topic. Its key is its own: CloudWatch alarms cannot
# publish to a topic encrypted with the AWS managed alias/aws/sns key (see modules/sns_topic).
module "alarm_topic" {
  source = "../sns_topic"

  name  = "${var.project}-alarms-${var.environment}"
  email = var.alarm_email
  tags  = local.tags
}

module "example" {
  source = "../example"

  project       = var.project
  environment   = var.environment
  package_dir   = var.package_dir
  log_level     = var.log_level
  alarm_actions = [module.alarm_topic.arn]
  tags          = local.tags
}

# Each pipeline setting is passed through as given: a field left out is null, and the module's
# variable (nullable = false) then takes its own default.
module "alerts_to_sftp" {
  source = "../alerts_to_sftp"

  project       = var.project
  environment   = var.environment
  package_dir   = var.package_dir
  log_level     = var.log_level
  alarm_actions = [module.alarm_topic.arn]
  tags          = local.tags

  api_url                 = var.alerts_to_sftp.api_url
  staging                 = var.alerts_to_sftp.staging
  staging_expiration_days = var.alerts_to_sftp.staging_expiration_days
  sftp_remote_dir         = var.alerts_to_sftp.sftp_remote_dir
  finalizer_schedule      = var.alerts_to_sftp.finalizer_schedule
  stuck_after_seconds     = var.alerts_to_sftp.stuck_after_seconds
  allow_plaintext_trigger = var.alerts_to_sftp.allow_plaintext_trigger
  worker                  = var.alerts_to_sftp.worker
  secrets                 = var.alerts_to_sftp.secrets
  network                 = var.alerts_to_sftp.network
}

module "ndjson_to_parquet" {
  source = "../ndjson_to_parquet"
  # Not a setting of the module but whether it exists: on unless a root says enabled = false.
  count = var.ndjson_to_parquet.enabled == false ? 0 : 1

  environment = var.environment
  package_dir = var.package_dir
  log_level   = var.log_level
  # Its alarms notify the stack's topic too (alarm_email); per-manifest failure alerts go to the
  # pipeline's own topic only (ndjson_to_parquet.alert_email).
  alarm_actions = [module.alarm_topic.arn]
  tags          = local.tags

  glue_artifact_dir             = var.ndjson_to_parquet.glue_artifact_dir
  log_retention_days            = var.ndjson_to_parquet.log_retention_days
  force_destroy                 = var.ndjson_to_parquet.force_destroy
  point_in_time_recovery        = var.ndjson_to_parquet.point_in_time_recovery
  table_deletion_protection     = var.ndjson_to_parquet.table_deletion_protection
  alert_email                   = var.ndjson_to_parquet.alert_email
  stream_manifests_enabled      = var.ndjson_to_parquet.stream_manifests_enabled
  eventbridge_enabled           = var.ndjson_to_parquet.eventbridge_enabled
  flush_interval_minutes        = var.ndjson_to_parquet.flush_interval_minutes
  max_files_per_manifest        = var.ndjson_to_parquet.max_files_per_manifest
  max_bytes_per_manifest        = var.ndjson_to_parquet.max_bytes_per_manifest
  orphan_after_seconds          = var.ndjson_to_parquet.orphan_after_seconds
  max_file_bytes                = var.ndjson_to_parquet.max_file_bytes
  spark_threshold_bytes         = var.ndjson_to_parquet.spark_threshold_bytes
  breaker_failure_threshold     = var.ndjson_to_parquet.breaker_failure_threshold
  breaker_window_seconds        = var.ndjson_to_parquet.breaker_window_seconds
  glue_max_capacity             = var.ndjson_to_parquet.glue_max_capacity
  glue_timeout_minutes          = var.ndjson_to_parquet.glue_timeout_minutes
  spark_timeout_minutes         = var.ndjson_to_parquet.spark_timeout_minutes
  spark_worker_type             = var.ndjson_to_parquet.spark_worker_type
  spark_number_of_workers       = var.ndjson_to_parquet.spark_number_of_workers
  glue_max_concurrent_runs      = var.ndjson_to_parquet.glue_max_concurrent_runs
  pyarrow_requirement           = var.ndjson_to_parquet.pyarrow_requirement
  glue_extra_arguments          = var.ndjson_to_parquet.glue_extra_arguments
  glue_poll_seconds             = var.ndjson_to_parquet.glue_poll_seconds
  concurrent_runs_retry_seconds = var.ndjson_to_parquet.concurrent_runs_retry_seconds
  concurrent_runs_max_attempts  = var.ndjson_to_parquet.concurrent_runs_max_attempts
  retry_interval_seconds        = var.ndjson_to_parquet.retry_interval_seconds
  expiration_days               = var.ndjson_to_parquet.expiration_days
  builder                       = var.ndjson_to_parquet.builder
  status_updater                = var.ndjson_to_parquet.status_updater
}

module "csv_to_api" {
  source = "../csv_to_api"
  # It needs a partner API and its secrets: a root without csv_to_api leaves it out.
  count = var.csv_to_api == null ? 0 : 1

  project       = var.project
  environment   = var.environment
  package_dir   = var.package_dir
  log_level     = var.log_level
  alarm_actions = [module.alarm_topic.arn]
  tags          = local.tags

  api_url                = var.csv_to_api.api_url
  allow_plaintext_api    = var.csv_to_api.allow_plaintext_api
  secrets                = var.csv_to_api.secrets
  rate_limit             = var.csv_to_api.rate_limit
  rate_utilization       = var.csv_to_api.rate_utilization
  feeds                  = var.csv_to_api.feeds
  incoming_prefix        = var.csv_to_api.incoming_prefix
  chunk_bytes            = var.csv_to_api.chunk_bytes
  max_chunks             = var.csv_to_api.max_chunks
  max_concurrency        = var.csv_to_api.max_concurrency
  stagger_seconds        = var.csv_to_api.stagger_seconds
  chunk_retry_seconds    = var.csv_to_api.chunk_retry_seconds
  chunk_max_attempts     = var.csv_to_api.chunk_max_attempts
  unknown_error_attempts = var.csv_to_api.unknown_error_attempts
  retry_seconds          = var.csv_to_api.retry_seconds
  log_retention_days     = var.csv_to_api.log_retention_days
  force_destroy          = var.csv_to_api.force_destroy
  point_in_time_recovery = var.csv_to_api.point_in_time_recovery
  runbook_url            = var.csv_to_api.runbook_url
  caller                 = var.csv_to_api.caller
  starter                = var.csv_to_api.starter
  planner                = var.csv_to_api.planner
  alarm_thresholds       = var.csv_to_api.alarm_thresholds
  dynatrace              = var.csv_to_api.dynatrace
  log_forwarding         = var.csv_to_api.log_forwarding
}
