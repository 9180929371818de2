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

variable "alerts_to_sftp" {
  description = "Alerts to SFTP pipeline (seed 000): see modules/alerts_to_sftp for each field."
  type = object({
    api_url            = string
    staging            = optional(string, "s3")
    sftp_remote_dir    = optional(string, "/upload")
    finalizer_schedule = optional(string, "rate(5 minutes)")
    worker = optional(object({
      batch_size                         = optional(number, 100)
      maximum_batching_window_in_seconds = optional(number, 5)
      maximum_concurrency                = optional(number, 5)
      timeout                            = optional(number, 120)
      max_receive_count                  = optional(number, 3)
    }), {})
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
      internal               = optional(bool, true)
      certificate_arn        = optional(string)
      lambda_subnet_ids      = optional(list(string), [])
      lambda_security_groups = optional(list(string), [])
    })
  })
}

variable "ndjson_to_parquet" {
  description = "NDJSON to Parquet pipeline (seed 001): see modules/ndjson_to_parquet for each field. enabled = false leaves it out."
  type = object({
    enabled                       = optional(bool, true)
    alert_email                   = optional(string)
    force_destroy                 = optional(bool, false)
    point_in_time_recovery        = optional(bool, true)
    table_deletion_protection     = optional(bool, false)
    stream_manifests_enabled      = optional(bool, false)
    eventbridge_enabled           = optional(bool, false)
    flush_interval_minutes        = optional(number, 5)
    max_files_per_manifest        = optional(number, 500)
    max_bytes_per_manifest        = optional(number, 5368709120)
    orphan_after_seconds          = optional(number, 900)
    max_file_bytes                = optional(number, 2147483648)
    spark_threshold_bytes         = optional(number, 2147483648)
    breaker_failure_threshold     = optional(number, 3)
    breaker_window_seconds        = optional(number, 900)
    glue_max_capacity             = optional(number, 1)
    glue_timeout_minutes          = optional(number, 60)
    spark_timeout_minutes         = optional(number, 120)
    spark_worker_type             = optional(string, "G.1X")
    spark_number_of_workers       = optional(number, 2)
    glue_max_concurrent_runs      = optional(number, 10)
    glue_extra_arguments          = optional(map(string), {})
    glue_poll_seconds             = optional(number, 30)
    concurrent_runs_retry_seconds = optional(number, 60)
    retry_interval_seconds        = optional(number, 2)
    expiration_days = optional(object({
      landing    = optional(number, 30)
      manifests  = optional(number, 90)
      logs       = optional(number, 30)
      quarantine = optional(number, 90)
    }), {})
    builder = optional(object({
      timeout                            = optional(number, 60)
      memory_size                        = optional(number, 512)
      batch_size                         = optional(number, 10)
      maximum_batching_window_in_seconds = optional(number, 0)
      maximum_concurrency                = optional(number)
    }), {})
    status_updater = optional(object({
      timeout     = optional(number, 300)
      memory_size = optional(number, 512)
    }), {})
  })
  default = {}
}
