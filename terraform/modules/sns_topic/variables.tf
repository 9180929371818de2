variable "name" {
  description = "Topic name, <project>-<component>-<env>."
  type        = string
}

variable "key_alias" {
  description = "Alias of the topic's KMS key (alias/...); null for alias/<name>."
  type        = string
  default     = null
}

variable "publisher_services" {
  description = "AWS service principals that publish to the topic and so must use its key (CloudWatch alarms by default); they may do so only for this account's resources."
  type        = list(string)
  default     = ["cloudwatch.amazonaws.com"]
  nullable    = false
}

variable "email" {
  description = "Optional e-mail address subscribed to the topic (the subscription is confirmed once by mail)."
  type        = string
  default     = null
}

variable "key_deletion_window_days" {
  description = "Waiting period before a destroyed key is deleted (7-30 days)."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = var.key_deletion_window_days >= 7 && var.key_deletion_window_days <= 30
    error_message = "key_deletion_window_days must be between 7 and 30."
  }
}

variable "tags" {
  description = "Tags applied to the key and the topic."
  type        = map(string)
  default     = {}
  nullable    = false
}
