variable "endpoint" {
  description = "URL of the local AWS stack (AWS_ENDPOINT_URL)."
  type        = string
  default     = "http://127.0.0.1:4566"
}

variable "region" {
  description = "AWS region the local stack answers for."
  type        = string
  default     = "us-east-1"
}

variable "package_dir" {
  description = "Directory holding the zips of `make build`."
  type        = string
  default     = "../../../build"
}
