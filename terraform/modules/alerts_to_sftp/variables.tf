variable "project" {
  description = "Project prefix of every resource name."
  type        = string
}

variable "environment" {
  description = "Environment name (local, dev, staging, prod)."
  type        = string
}

variable "package_dir" {
  description = "Directory holding the service zips built by `make build`."
  type        = string
}

variable "log_level" {
  description = "Log level of the functions."
  type        = string
  default     = "INFO"
  nullable    = false
}

variable "staging" {
  description = "Where the coordinator stages alert JSON: s3 (default, scales with 200 KB alerts) or mysql."
  type        = string
  default     = "s3"
  nullable    = false

  validation {
    condition     = contains(["s3", "mysql"], var.staging)
    error_message = "staging must be s3 or mysql."
  }
}

variable "staging_expiration_days" {
  description = "Days after which staged alert JSON is deleted from the staging bucket."
  type        = number
  default     = 7
  nullable    = false
}

variable "api_url" {
  description = "Base URL of the external alerts API (GET {url}/alerts?status=&page_size=&page_token=)."
  type        = string
}

variable "secrets" {
  description = <<-EOT
    Where the functions read their secrets (created and rotated outside this module; values never pass
    through Terraform here): Secrets Manager ARNs of the trigger header secret, the alerts API bearer
    token, the MySQL connection ({"url"} or RDS's {"host","port","username","password","dbname"}) and
    the SFTP login ({"host","port","username","private_key"}); and the name of the SSM parameter
    holding the SFTP server's known_hosts line(s).
  EOT
  type = object({
    trigger_secret_arn         = string
    api_token_secret_arn       = string
    mysql_secret_arn           = string
    sftp_secret_arn            = string
    sftp_known_hosts_parameter = string
  })
}

variable "sftp_remote_dir" {
  description = "Directory on the SFTP server under which each job gets a folder of alert files."
  type        = string
  default     = "/upload"
  nullable    = false
}

variable "network" {
  description = <<-EOT
    The ALB's VPC and subnets, the CIDRs allowed to call it (Airflow/MWAA), and optionally subnets and
    security groups for the functions (to reach RDS; they then need a NAT route to the SFTP server).
    certificate_arn (ACM) makes the trigger HTTPS :443 (required unless allow_plaintext_trigger);
    trigger_hostname is then the name the certificate covers, which callers use (trigger_url), and
    with route53_zone_id an alias record of that name to the ALB is created in that zone.
  EOT
  type = object({
    vpc_id                 = string
    alb_subnet_ids         = list(string)
    allowed_cidrs          = list(string)
    internal               = optional(bool, true)
    certificate_arn        = optional(string)
    trigger_hostname       = optional(string)
    route53_zone_id        = optional(string)
    lambda_subnet_ids      = optional(list(string), [])
    lambda_security_groups = optional(list(string), [])
  })
}

variable "allow_plaintext_trigger" {
  description = "Let the trigger listen on plain HTTP :80 when network.certificate_arn is null. Only where no network is crossed (the local emulator): the trigger secret would travel in clear."
  type        = bool
  default     = false
  nullable    = false
}

variable "worker" {
  description = "sftp-worker tuning: SQS batch size and window, pollers, timeout and receive count before the DLQ."
  type = object({
    batch_size                         = optional(number, 100)
    maximum_batching_window_in_seconds = optional(number, 5)
    maximum_concurrency                = optional(number, 5)
    timeout                            = optional(number, 120)
    max_receive_count                  = optional(number, 3)
  })
  default  = {}
  nullable = false
}

variable "finalizer_schedule" {
  description = "EventBridge Scheduler expression for the finalizer."
  type        = string
  default     = "rate(5 minutes)"
  nullable    = false
}

variable "stuck_after_seconds" {
  description = "An alert not completed this long after it was queued is reported as stuck."
  type        = number
  default     = 3600
  nullable    = false
}

variable "alarm_actions" {
  description = "ARNs notified by the pipeline's alarms."
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
