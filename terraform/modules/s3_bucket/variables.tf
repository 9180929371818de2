variable "name" {
  description = "Bucket name (globally unique): <project>-<component>-<env>-<account id>."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.name))
    error_message = "name must be 3-63 lower-case letters, digits, dots and dashes, starting and ending with a letter or digit."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the bucket with its objects (true only for throwaway environments)."
  type        = bool
  default     = false
  nullable    = false
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for default encryption; null uses the account's AWS managed aws/s3 key (readers in the account need no key grant)."
  type        = string
  default     = null
}

variable "expiration_days" {
  description = "Lifecycle expiration by key prefix: { \"landing/\" = 30 }. 0 (or null) keeps that prefix's objects."
  type        = map(number)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for days in values(var.expiration_days) : days == null ? true : days >= 0 && floor(days) == days])
    error_message = "expiration_days values must be whole days, 0 (or null) to keep the objects."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which parts of an unfinished multipart upload are deleted."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1
    error_message = "abort_incomplete_multipart_upload_days must be at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "The bucket is versioned: an overwritten or deleted object stays recoverable for this many days."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "policy_documents" {
  description = "Extra IAM policy documents (JSON) merged into the bucket policy beside the TLS-only deny (e.g. a service principal's grant). Statement ids must be unique."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "tags" {
  description = "Tags applied to the bucket."
  type        = map(string)
  default     = {}
  nullable    = false
}
