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
}

variable "alarm_actions" {
  description = "ARNs notified by the module's alarms."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
