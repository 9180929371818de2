variable "project" {
  description = "Project prefix of every resource name: <project>-csv-<component>-<env>."
  type        = string
  default     = "lambda-pipelines"
  nullable    = false
}

variable "environment" {
  description = "Environment name (local, dev, staging, prod)."
  type        = string
}

variable "package_dir" {
  description = "Directory holding the service zips built by `make build` (csv-api-caller.zip, ...)."
  type        = string
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

variable "alarm_actions" {
  description = "Further ARNs every alarm notifies (the stack's alarm topic); the pipeline's own topic, which the alert manager e-mails from, is always notified."
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

variable "force_destroy" {
  description = "Let `terraform destroy` delete the buckets with their objects (true only for throwaway environments)."
  type        = bool
  default     = false
  nullable    = false
}

variable "point_in_time_recovery" {
  description = "Point-in-time recovery of the pipeline's DynamoDB tables."
  type        = bool
  default     = true
  nullable    = false
}

variable "api_url" {
  description = "Base URL of the partner's records API (POST {api_url}/v1/records). https:// everywhere but the local stack."
  type        = string

  validation {
    condition     = can(regex("^https?://[^/]+", var.api_url))
    error_message = "api_url must be an http(s) URL."
  }

  validation {
    condition     = startswith(var.api_url, "https://") || var.allow_plaintext_api
    error_message = "api_url must be https:// (the bearer token and the rows cross the network); allow_plaintext_api = true only where none is crossed (the local emulator)."
  }
}

variable "allow_plaintext_api" {
  description = "Allow an http:// api_url (only the local root, whose fake API listens on 127.0.0.1)."
  type        = bool
  default     = false
  nullable    = false
}

variable "secrets" {
  description = <<-EOT
    Where the functions read their secrets (created and rotated outside this module; values never pass
    through Terraform): api_token_secret_arn (the API's bearer token, SecretString = the token),
    smtp_secret_arn (JSON {host, port, username, password, from, to, ca_cert?}) and, to forward logs to
    Splunk, hec_secret_arn (JSON {url, token, index?, ca_cert?}; null: no forwarder).
  EOT
  type = object({
    api_token_secret_arn = string
    smtp_secret_arn      = string
    hec_secret_arn       = optional(string)
  })
}

variable "log_forwarding" {
  description = "Forward the functions' logs to Splunk HEC (csv-log-forwarder). Null: on exactly when secrets.hec_secret_arn is set. Say true when that ARN is only known after apply (a secret the same root creates), where Terraform cannot count on it."
  type        = bool
  default     = null

  validation {
    condition     = var.log_forwarding != true || var.secrets.hec_secret_arn != null
    error_message = "log_forwarding = true needs secrets.hec_secret_arn (where the HEC's URL and token are)."
  }
}

variable "rate_limit" {
  description = "The API's limit in requests per second, shared by every caller of every file at once; 0 turns the limiter off."
  type        = number
  default     = 50
  nullable    = false

  validation {
    condition     = var.rate_limit >= 0 && var.rate_limit <= 1000
    error_message = "rate_limit must be within 0..1000 requests/s (one DynamoDB item per second takes every request)."
  }
}

variable "rate_utilization" {
  description = "Fraction of rate_limit the limiter hands out: the rest absorbs the jitter between a request's send time and its arrival."
  type        = number
  default     = 0.96
  nullable    = false

  validation {
    condition     = var.rate_utilization > 0.5 && var.rate_utilization <= 1
    error_message = "rate_utilization must be within (0.5, 1]."
  }
}

variable "feeds" {
  description = "Feeds by key prefix: each {name, prefix, encoding?, delimiter?, max_field_bytes?, allow_extra_columns?, columns?[{name, type?, required?, pattern?, min_length?, max_length?, allowed?}]} (docs/csv_to_api/schemas/feeds.schema.json). A key no feed claims gets structural checks only."
  type        = any
  default     = []
  nullable    = false
}

variable "incoming_prefix" {
  description = "Prefix of the keys that start a file; the rule matches <prefix>*.csv."
  type        = string
  default     = "incoming/"
  nullable    = false
}

variable "chunk_bytes" {
  description = "Target chunk size in bytes; chunks end at the first row boundary after it."
  type        = number
  default     = 1048576
  nullable    = false
}

variable "max_chunks" {
  description = "Most chunks per file (larger files get larger chunks): bounds the Map's items and the state payload."
  type        = number
  default     = 1000
  nullable    = false
}

variable "max_concurrency" {
  description = "Chunks of one file sent at once (the Map's MaxConcurrency)."
  type        = number
  default     = 4
  nullable    = false
}

variable "stagger_seconds" {
  description = "Seconds between the starts of a file's first chunks (the staggered invocation)."
  type        = number
  default     = 1
  nullable    = false
}

variable "chunk_retry_seconds" {
  description = "First interval of the state machine's retries of a failed chunk invocation (doubles each time)."
  type        = number
  default     = 10
  nullable    = false
}

variable "chunk_max_attempts" {
  description = "Retries of a failed chunk invocation before the chunk goes to the caller's dead-letter queue."
  type        = number
  default     = 3
  nullable    = false
}

variable "unknown_error_attempts" {
  description = "Retries of a chunk invocation that failed with Lambda.Unknown (in AWS: the function process died, e.g. out of memory) before the chunk goes to the caller's dead-letter queue. Emulators that report a throttled invoke as Lambda.Unknown need as many as the throttle retrier (60)."
  type        = number
  default     = 2
  nullable    = false
  validation {
    condition     = var.unknown_error_attempts >= 0 && var.unknown_error_attempts <= 60 && floor(var.unknown_error_attempts) == var.unknown_error_attempts
    error_message = "unknown_error_attempts: a whole number from 0 to 60."
  }
}

variable "retry_seconds" {
  description = "First interval of the retries of the plan and report steps."
  type        = number
  default     = 5
  nullable    = false
}

variable "caller" {
  description = "csv-api-caller: memory, timeout, requests in flight per invocation, transient attempts per row, and reserved concurrency (the most chunks in flight over all files)."
  type = object({
    memory_size          = optional(number, 512)
    timeout              = optional(number, 300)
    concurrency          = optional(number, 16)
    max_attempts         = optional(number, 6)
    reserved_concurrency = optional(number, 20)
    deadline_margin      = optional(number, 20)
  })
  default  = {}
  nullable = false
}

variable "starter" {
  description = <<-EOT
    csv-ingest-starter: the ingest queue's batch size, pollers and receives before the DLQ;
    max_files_in_flight, the files whose executions may run at once (null: caller.reserved_concurrency
    / max_concurrency, so no chunk invocation is throttled; 0: no bound), and defer_seconds, how long a
    file over that bound waits in the queue before it is looked at again.
  EOT
  type = object({
    batch_size          = optional(number, 10)
    maximum_concurrency = optional(number, 5)
    max_receive_count   = optional(number, 5)
    timeout             = optional(number, 30)
    max_files_in_flight = optional(number)
    defer_seconds       = optional(number, 10)
  })
  default  = {}
  nullable = false
}

variable "planner" {
  description = "csv-file-planner: memory and timeout (it streams the whole file once to cut chunks)."
  type = object({
    memory_size = optional(number, 512)
    timeout     = optional(number, 900)
  })
  default  = {}
  nullable = false
}

variable "alarm_thresholds" {
  description = "Alarm thresholds: oldest ingest message age (s), ingest queue depth, API reject rate (0..1 over 5 minutes), caller throttles per 5 minutes (alarms after 3 such periods in a row)."
  type = object({
    queue_age_seconds = optional(number, 900)
    queue_depth       = optional(number, 1000)
    reject_rate       = optional(number, 0.05)
    throttles         = optional(number, 50)
  })
  default  = {}
  nullable = false
}

variable "runbook_url" {
  description = "Base URL of the pipeline's runbook (the e-mails link <runbook_url>#<alarm>)."
  type        = string
  default     = "https://github.com/lambda-pipelines/lambda-pipelines/blob/main/docs/csv_to_api.md"
  nullable    = false
}

variable "dynatrace" {
  description = "Dynatrace: stream the pipeline's CloudWatch metrics (AWS/Lambda, AWS/SQS, AWS/States and the pipeline's own) to Dynatrace through a metric stream and Firehose. Off by default; the API token is read by Firehose from Secrets Manager."
  type = object({
    enabled          = optional(bool, false)
    endpoint_url     = optional(string)
    token_secret_arn = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition     = !var.dynatrace.enabled || can(regex("^https://[^/]+/", var.dynatrace.endpoint_url))
    error_message = "dynatrace.endpoint_url must be the https:// metric stream URL of your Dynatrace environment when enabled."
  }

  validation {
    condition     = !var.dynatrace.enabled || can(regex("^arn:[^:]+:secretsmanager:", var.dynatrace.token_secret_arn))
    error_message = "dynatrace.token_secret_arn must be a Secrets Manager ARN when enabled."
  }
}
