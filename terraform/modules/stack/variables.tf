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

variable "alerts" {
  description = "Alerts to SFTP pipeline (seed 000): see modules/alerts_pipeline for each field."
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
