variable "name" {
  description = "Function name, following <project>-<component>-<env>."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9-_]{1,64}$", var.name)) && !startswith(lower(var.name), "url")
    error_message = "name must be 1-64 characters of [A-Za-z0-9-_] and must not start with \"url\"."
  }
}

variable "description" {
  description = "Human-readable description of the function."
  type        = string
  default     = ""
}

variable "package_path" {
  description = "Path to the deployment zip produced by `make build` (build/<service>.zip)."
  type        = string
}

variable "handler" {
  description = "Handler entry point, e.g. example_worker.handler.lambda_handler."
  type        = string
}

variable "runtime" {
  description = "Lambda runtime identifier."
  type        = string
  default     = "python3.12"
}

variable "architecture" {
  description = "Instruction set architecture: x86_64 or arm64. Must match the platform the zip was built for."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "memory_size" {
  description = "Memory in MB."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Function timeout in seconds. An SQS source gets a visibility timeout of 6 x this value."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout must be between 1 and 900 seconds."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing of invocations: Active (sampled traces with timings, the default) or PassThrough."
  type        = string
  default     = "Active"
  nullable    = false

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be Active or PassThrough."
  }
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency; -1 leaves the function unreserved."
  type        = number
  default     = -1
}

variable "environment" {
  description = "Environment variables. Never put secrets here: pass the secret's ARN or SSM name instead."
  type        = map(string)
  default     = {}
}

variable "attach_policy_json" {
  description = "Whether to attach policy_json (a flag, because the policy's content is often only known after apply)."
  type        = bool
  default     = false
}

variable "policy_json" {
  description = "Least-privilege IAM policy document (JSON) for what the function's code does. Logging and the SQS source are granted by the module."
  type        = string
  default     = null
}

variable "vpc_subnet_ids" {
  description = "Subnets to attach the function to (e.g. to reach RDS); empty for no VPC."
  type        = list(string)
  default     = []
}

variable "vpc_security_group_ids" {
  description = "Security groups of the function's network interfaces, with vpc_subnet_ids."
  type        = list(string)
  default     = []
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention for the function's log group."
  type        = number
  default     = 30
}

variable "sqs_source" {
  description = <<-EOT
    Optional SQS queue (with DLQ) feeding the function. null for none.
    batch_size and maximum_batching_window_in_seconds tune the event source mapping;
    max_receive_count is how many receives a message gets before it moves to the DLQ (>= 3);
    maximum_concurrency caps the pollers (2-1000, null for no cap).
    queue_name and dlq_name replace the default names "<name>-queue" and "<name>-dlq" (e.g. names an
    architecture fixes); visibility_timeout_seconds replaces 6 x timeout (it may not be shorter);
    receive_wait_time_seconds is the queue's long-poll wait (0-20) for consumers other than Lambda.
  EOT
  type = object({
    batch_size                         = optional(number, 10)
    maximum_batching_window_in_seconds = optional(number, 0)
    max_receive_count                  = optional(number, 3)
    message_retention_seconds          = optional(number, 345600)
    dlq_message_retention_seconds      = optional(number, 1209600)
    maximum_concurrency                = optional(number)
    kms_master_key_id                  = optional(string)
    queue_name                         = optional(string)
    dlq_name                           = optional(string)
    visibility_timeout_seconds         = optional(number)
    receive_wait_time_seconds          = optional(number, 0)
  })
  default = null

  validation {
    condition     = var.sqs_source == null ? true : var.sqs_source.max_receive_count >= 3
    error_message = "sqs_source.max_receive_count must be at least 3."
  }

  validation {
    condition     = var.sqs_source == null ? true : (var.sqs_source.batch_size >= 1 && var.sqs_source.batch_size <= 10000)
    error_message = "sqs_source.batch_size must be between 1 and 10000."
  }

  validation {
    condition     = var.sqs_source == null ? true : (var.sqs_source.receive_wait_time_seconds >= 0 && var.sqs_source.receive_wait_time_seconds <= 20)
    error_message = "sqs_source.receive_wait_time_seconds must be between 0 and 20."
  }
}

variable "alarm_actions" {
  description = "ARNs (e.g. an SNS topic) notified when an alarm fires or recovers."
  type        = list(string)
  default     = []
}

variable "error_alarm_threshold" {
  description = "Function errors per 5 minutes that raise the errors alarm."
  type        = number
  default     = 1
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
