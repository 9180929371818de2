variable "name_prefix" {
  description = "Prefix of every resource name: <prefix>-<component>-<env> (the architecture fixes ndjson-parquet)."
  type        = string
  default     = "ndjson-parquet"
  nullable    = false
}

variable "environment" {
  description = "Environment name (local, dev, staging, prod)."
  type        = string
}

variable "package_dir" {
  description = "Directory holding the service zips built by `make build` (manifest-builder.zip, ...)."
  type        = string
}

variable "glue_artifact_dir" {
  description = "Directory of the Glue artifacts built by `make build` (ndjson_to_parquet_job.py, ndjson_to_parquet_spark.py, ndjson_to_parquet.zip); null for <package_dir>/glue."
  type        = string
  default     = null
}

variable "log_level" {
  description = "Log level of the functions."
  type        = string
  default     = "INFO"
  nullable    = false
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention of the functions' log groups."
  type        = number
  default     = 30
  nullable    = false
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the buckets with their objects (true only for throwaway environments)."
  type        = bool
  default     = false
  nullable    = false
}

variable "point_in_time_recovery" {
  description = "Point-in-time recovery of the two DynamoDB tables."
  type        = bool
  default     = true
  nullable    = false
}

variable "table_deletion_protection" {
  description = "Deletion protection of the two DynamoDB tables."
  type        = bool
  default     = false
  nullable    = false
}

variable "expiration_days" {
  description = <<-EOT
    Lifecycle expiration in days (0 keeps objects; a field left out or null takes the default below): landing files in the input bucket, manifests and
    run logs in the manifest bucket, quarantined files. Output Parquet is never expired here.
  EOT
  type = object({
    landing    = optional(number, 30)
    manifests  = optional(number, 90)
    logs       = optional(number, 30)
    quarantine = optional(number, 90)
  })
  default  = {}
  nullable = false
}

variable "alert_email" {
  description = "Optional e-mail address subscribed to the pipeline's alert topic (confirm the subscription once)."
  type        = string
  default     = null
}

# ------------------------------------------------------------------------------------ manifest builder

variable "builder" {
  description = <<-EOT
    manifest-builder: function timeout and memory, and its SQS source. The file-events queue's visibility
    timeout is max(360, 6 x timeout) seconds; batch_size 10 as the architecture fixes it.
  EOT
  type = object({
    timeout                            = optional(number, 60)
    memory_size                        = optional(number, 512)
    batch_size                         = optional(number, 10)
    maximum_batching_window_in_seconds = optional(number, 0)
    maximum_concurrency                = optional(number)
  })
  default  = {}
  nullable = false
}

variable "status_updater" {
  description = "batch-status-updater: timeout and memory (it moves every file of one manifest)."
  type = object({
    timeout     = optional(number, 300)
    memory_size = optional(number, 512)
  })
  default  = {}
  nullable = false
}

variable "max_files_per_manifest" {
  description = "A manifest is cut as soon as this many files are pending for a date."
  type        = number
  default     = 500
  nullable    = false
}

variable "max_bytes_per_manifest" {
  description = "A manifest is cut as soon as its files reach this many bytes."
  type        = number
  default     = 5368709120 # 5 GiB
  nullable    = false
}

variable "orphan_after_seconds" {
  description = "The scheduled flush cuts a manifest of pending files once the oldest has waited this long."
  type        = number
  default     = 900
  nullable    = false
}

variable "max_file_bytes" {
  description = "Larger landing files are quarantined (reason too_large)."
  type        = number
  default     = 2147483648 # 2 GiB
  nullable    = false
}

variable "spark_threshold_bytes" {
  description = "Manifests with more bytes than this run on the Spark (glueetl) job instead of the Python shell job."
  type        = number
  default     = 2147483648 # 2 GiB
  nullable    = false
}

variable "breaker_failure_threshold" {
  description = "Circuit breaker: this many failed manifests within breaker_window_seconds stop new executions."
  type        = number
  default     = 3
  nullable    = false
}

variable "breaker_window_seconds" {
  description = "Circuit breaker window in seconds."
  type        = number
  default     = 900
  nullable    = false
}

variable "flush_interval_minutes" {
  description = "How often EventBridge Scheduler invokes manifest-builder with {\"action\":\"flush\"} (orphan flush, pending manifests)."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.flush_interval_minutes >= 1 && floor(var.flush_interval_minutes) == var.flush_interval_minutes
    error_message = "flush_interval_minutes must be a whole number of minutes, at least 1."
  }
}

# ---------------------------------------------------------------------------------------- feature flags

variable "stream_manifests_enabled" {
  description = "Phase 3: stream-manifest-creator builds manifests from the tracking table's stream (MANIFEST_MODE=stream); manifest-builder only validates and tracks."
  type        = bool
  default     = false
  nullable    = false
}

variable "eventbridge_enabled" {
  description = "Phase 3: manifests are announced as ManifestReady on the pipeline's bus and a rule starts the state machine (START_MODE=eventbridge)."
  type        = bool
  default     = false
  nullable    = false
}

# ----------------------------------------------------------------------------------------- Glue + SFN

variable "glue_max_capacity" {
  description = "DPUs of the Python shell job: 0.0625 or 1."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = contains([0.0625, 1], var.glue_max_capacity)
    error_message = "glue_max_capacity must be 0.0625 or 1 (Python shell jobs)."
  }
}

variable "glue_timeout_minutes" {
  description = "Timeout of a Python shell job run, in minutes; the run ends TIMEOUT and the manifest fails."
  type        = number
  default     = 60
  nullable    = false
}

variable "spark_timeout_minutes" {
  description = "Timeout of a Spark job run, in minutes."
  type        = number
  default     = 120
  nullable    = false
}

variable "spark_worker_type" {
  description = "Worker type of the Spark (glueetl) job."
  type        = string
  default     = "G.1X"
  nullable    = false
}

variable "spark_number_of_workers" {
  description = "Number of workers of the Spark (glueetl) job."
  type        = number
  default     = 2
  nullable    = false
}

variable "glue_max_concurrent_runs" {
  description = "Concurrent runs allowed per Glue job (beyond it StartJobRun is retried on ConcurrentRunsExceededException)."
  type        = number
  default     = 10
  nullable    = false
}

variable "pyarrow_requirement" {
  description = "--additional-python-modules of the Python shell job: pyarrow pinned as in requirements/glue.in."
  type        = string
  default     = "pyarrow==21.0.0"
  nullable    = false
}

variable "glue_extra_arguments" {
  description = "Extra default arguments of both Glue jobs (e.g. --aws_endpoint_url on the local stack)."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "glue_poll_seconds" {
  description = "Seconds the state machine waits between GetJobRun polls."
  type        = number
  default     = 30
  nullable    = false
}

variable "concurrent_runs_retry_seconds" {
  description = "First retry interval of StartJobRun on Glue.ConcurrentRunsExceededException (doubles each attempt)."
  type        = number
  default     = 60
  nullable    = false
}

variable "concurrent_runs_max_attempts" {
  description = "Retries of StartJobRun while the Glue job is at max_concurrent_runs. A busy job is not a data failure: the default waits about an hour (60 s doubling 6 times) before the manifest fails."
  type        = number
  default     = 6
  nullable    = false

  validation {
    condition     = var.concurrent_runs_max_attempts >= 1 && var.concurrent_runs_max_attempts <= 10
    error_message = "concurrent_runs_max_attempts must be between 1 and 10."
  }
}

variable "retry_interval_seconds" {
  description = "First retry interval of the state machine's other tasks on transient errors (doubles)."
  type        = number
  default     = 2
  nullable    = false
}

# ----------------------------------------------------------------------------------------------- misc

variable "alarm_actions" {
  description = "ARNs notified by the pipeline's alarms besides its own alert topic (e.g. the stack's alarm topic)."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
  nullable    = false
}
