variable "project" {
  description = "Project prefix of every resource name."
  type        = string
  default     = "lambda-pipelines"
}

variable "environment" {
  description = "Environment name (local, dev, staging, prod)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment must be lower-case letters, digits and dashes (2-16 characters)."
  }
}

variable "package_dir" {
  description = "Directory holding the service zips built by `make build`."
  type        = string
}

variable "log_level" {
  description = "Log level of every function."
  type        = string
  default     = "INFO"
}

variable "alarm_email" {
  description = "Optional e-mail address subscribed to the alarm topic."
  type        = string
  default     = null
}

variable "tags" {
  description = "Extra tags applied to every resource."
  type        = map(string)
  default     = {}
}

# The pipelines' settings. Every default lives in the pipeline's module (its variables.tf), and only
# there: these types name the same fields with optional(type) and no default, a field left out (null)
# takes the module's default. tests/unit/test_terraform_settings.py keeps the lists equal.

variable "alerts_to_sftp" {
  description = "Alerts to SFTP pipeline (seed 000): each field is the variable of the same name in modules/alerts_to_sftp, which holds its default."
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
  description = "NDJSON to Parquet pipeline (seed 001): each field is the variable of the same name in modules/ndjson_to_parquet, which holds its default; enabled = false leaves the pipeline out."
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
  # {} deploys the module's defaults; null is {} too.
  default  = {}
  nullable = false
}

variable "csv_to_api" {
  description = "CSV to API pipeline (seed 002): api_url and secrets are required, every other field is the variable of the same name in modules/csv_to_api, which holds its default; null leaves the pipeline out (it needs a partner API)."
  type = object({
    api_url             = string
    allow_plaintext_api = optional(bool)
    secrets = object({
      api_token_secret_arn = string
      smtp_secret_arn      = string
      hec_secret_arn       = optional(string)
    })
    rate_limit             = optional(number)
    rate_utilization       = optional(number)
    feeds                  = optional(any)
    incoming_prefix        = optional(string)
    chunk_bytes            = optional(number)
    max_chunks             = optional(number)
    max_concurrency        = optional(number)
    stagger_seconds        = optional(number)
    chunk_retry_seconds    = optional(number)
    chunk_max_attempts     = optional(number)
    unknown_error_attempts = optional(number)
    retry_seconds          = optional(number)
    log_retention_days     = optional(number)
    force_destroy          = optional(bool)
    point_in_time_recovery = optional(bool)
    runbook_url            = optional(string)
    caller = optional(object({
      memory_size          = optional(number)
      timeout              = optional(number)
      concurrency          = optional(number)
      max_attempts         = optional(number)
      reserved_concurrency = optional(number)
      deadline_margin      = optional(number)
    }))
    starter = optional(object({
      batch_size          = optional(number)
      maximum_concurrency = optional(number)
      max_receive_count   = optional(number)
      timeout             = optional(number)
      max_files_in_flight = optional(number)
      defer_seconds       = optional(number)
    }))
    planner = optional(object({
      memory_size = optional(number)
      timeout     = optional(number)
    }))
    alarm_thresholds = optional(object({
      queue_age_seconds = optional(number)
      queue_depth       = optional(number)
      reject_rate       = optional(number)
      throttles         = optional(number)
    }))
    log_forwarding = optional(bool)
    dynatrace = optional(object({
      enabled          = optional(bool)
      endpoint_url     = optional(string)
      token_secret_arn = optional(string)
    }))
  })
  default = null
}
