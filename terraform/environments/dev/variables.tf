# The inputs of every AWS root: staging/variables.tf and prod/variables.tf are links to this file, so
# the three environments cannot drift apart (only main.tf, the backend and the tfvars differ).

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "allowed_account_ids" {
  description = "The AWS account id(s) this environment may be applied to: a guard against the wrong credentials."
  type        = list(string)
}

variable "package_dir" {
  description = "Directory holding the zips of `make build`."
  type        = string
  default     = "../../../build"
}

variable "alarm_email" {
  description = "E-mail address subscribed to the alarm topic (confirm the subscription once)."
  type        = string
  default     = null
}

# The pipelines' settings: the same fields as modules/stack (and the pipelines' modules, which hold
# every default; a field left out takes it). See the tfvars example.
variable "alerts_to_sftp" {
  description = "Alerts to SFTP pipeline: API URL, secret ARNs, network (certificate and trigger hostname) and tuning; each field is the variable of the same name in modules/alerts_to_sftp."
  type = object({
    api_url                 = string
    staging                 = optional(string)
    staging_expiration_days = optional(number)
    sftp_remote_dir         = optional(string)
    finalizer_schedule      = optional(string)
    stuck_after_seconds     = optional(number)
    allow_plaintext_trigger = optional(bool)
    worker = optional(object({
      batch_size                         = optional(number)
      maximum_batching_window_in_seconds = optional(number)
      maximum_concurrency                = optional(number)
      timeout                            = optional(number)
      max_receive_count                  = optional(number)
    }))
    secrets = object({
      trigger_secret_arn         = string
      api_token_secret_arn       = string
      mysql_secret_arn           = string
      sftp_secret_arn            = string
      sftp_known_hosts_parameter = string
    })
    network = object({
      vpc_id                 = string
      alb_subnet_ids         = list(string)
      allowed_cidrs          = list(string)
      internal               = optional(bool)
      certificate_arn        = optional(string)
      trigger_hostname       = optional(string)
      route53_zone_id        = optional(string)
      lambda_subnet_ids      = optional(list(string))
      lambda_security_groups = optional(list(string))
    })
  })
}

variable "ndjson_to_parquet" {
  description = "NDJSON to Parquet pipeline settings (alert e-mail, feature flags, batch sizes, Glue capacity); each field is the variable of the same name in modules/ndjson_to_parquet. {} deploys the module's defaults."
  type = object({
    enabled                       = optional(bool)
    glue_artifact_dir             = optional(string)
    log_retention_days            = optional(number)
    force_destroy                 = optional(bool)
    point_in_time_recovery        = optional(bool)
    table_deletion_protection     = optional(bool)
    alert_email                   = optional(string)
    stream_manifests_enabled      = optional(bool)
    eventbridge_enabled           = optional(bool)
    flush_interval_minutes        = optional(number)
    max_files_per_manifest        = optional(number)
    max_bytes_per_manifest        = optional(number)
    orphan_after_seconds          = optional(number)
    max_file_bytes                = optional(number)
    spark_threshold_bytes         = optional(number)
    breaker_failure_threshold     = optional(number)
    breaker_window_seconds        = optional(number)
    glue_max_capacity             = optional(number)
    glue_timeout_minutes          = optional(number)
    spark_timeout_minutes         = optional(number)
    spark_worker_type             = optional(string)
    spark_number_of_workers       = optional(number)
    glue_max_concurrent_runs      = optional(number)
    pyarrow_requirement           = optional(string)
    glue_extra_arguments          = optional(map(string))
    glue_poll_seconds             = optional(number)
    concurrent_runs_retry_seconds = optional(number)
    concurrent_runs_max_attempts  = optional(number)
    retry_interval_seconds        = optional(number)
    expiration_days = optional(object({
      landing    = optional(number)
      manifests  = optional(number)
      logs       = optional(number)
      quarantine = optional(number)
    }))
    builder = optional(object({
      timeout                            = optional(number)
      memory_size                        = optional(number)
      batch_size                         = optional(number)
      maximum_batching_window_in_seconds = optional(number)
      maximum_concurrency                = optional(number)
    }))
    status_updater = optional(object({
      timeout     = optional(number)
      memory_size = optional(number)
    }))
  })
  default  = {}
  nullable = false
}

variable "csv_to_api" {
  description = "CSV to API pipeline: {api_url, secrets = {api_token_secret_arn, smtp_secret_arn, hec_secret_arn?}, ...}; each field is the variable of the same name in modules/csv_to_api (modules/stack checks the shape). null leaves the pipeline out."
  type        = any
  default     = null
}
