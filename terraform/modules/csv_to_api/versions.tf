terraform {
  required_version = ">= 1.9" # a variable validation that reads another variable (api_url); mock_provider tests

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }
}
