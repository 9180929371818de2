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

variable "alerts_to_sftp" {
  description = "Alerts to SFTP pipeline: API URL, secret ARNs and network. Typed and validated by modules/stack (see the tfvars example)."
  type        = any
}

variable "ndjson_to_parquet" {
  description = "NDJSON to Parquet pipeline settings (alert e-mail, feature flags, batch sizes, Glue capacity). Typed and defaulted by modules/stack; {} deploys the defaults."
  type        = any
  default     = {}
}
