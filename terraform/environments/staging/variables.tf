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

variable "alerts" {
  description = "Alerts to SFTP pipeline settings: API URL, secret ARNs, network (see modules/alerts_pipeline)."
  type = object({
    api_url         = string
    staging         = optional(string, "s3")
    sftp_remote_dir = optional(string, "/upload")
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
