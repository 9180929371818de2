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
