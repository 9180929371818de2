# The trigger listener (issue 8, bug 2): plain HTTP only when a root explicitly allows it, a hostname the
# certificate covers when TLS is on, and a trigger_url a caller can use. Offline: plan only, mocked AWS.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }

  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }

  # Policy documents render JSON; the mock's random string would not parse as a policy.
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }

  # Known at plan time, so trigger_url and the alias record can be checked without an apply.
  mock_resource "aws_lb" {
    override_during = plan
    defaults = {
      arn      = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/lp-alerts-test/0123456789abcdef"
      dns_name = "internal-lp-alerts-test-123456.us-east-1.elb.amazonaws.com"
      zone_id  = "Z35SXDOTRQ7X7K"
    }
  }
}

variables {
  project     = "lambda-pipelines"
  environment = "test"
  package_dir = "../../tests/fixtures/package"
  api_url     = "https://alerts.partner.example.com/v1"
  secrets = {
    trigger_secret_arn         = "arn:aws:secretsmanager:us-east-1:123456789012:secret:trigger"
    api_token_secret_arn       = "arn:aws:secretsmanager:us-east-1:123456789012:secret:api-token"
    mysql_secret_arn           = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mysql"
    sftp_secret_arn            = "arn:aws:secretsmanager:us-east-1:123456789012:secret:sftp"
    sftp_known_hosts_parameter = "/lambda-pipelines/test/sftp-known-hosts"
  }
  network = {
    vpc_id         = "vpc-0123456789abcdef0"
    alb_subnet_ids = ["subnet-0aaa", "subnet-0bbb"]
    allowed_cidrs  = ["10.20.0.0/16"]
  }
}

run "refuses_plain_http_by_default" {
  command = plan

  expect_failures = [aws_lb_listener.trigger]
}

run "refuses_a_certificate_without_the_hostname_it_covers" {
  command = plan

  variables {
    network = {
      vpc_id          = "vpc-0123456789abcdef0"
      alb_subnet_ids  = ["subnet-0aaa", "subnet-0bbb"]
      allowed_cidrs   = ["10.20.0.0/16"]
      certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/abcd"
    }
  }

  expect_failures = [aws_lb_listener.trigger]
}

run "tls_listener_and_url_on_the_certificate_hostname" {
  command = plan

  variables {
    network = {
      vpc_id           = "vpc-0123456789abcdef0"
      alb_subnet_ids   = ["subnet-0aaa", "subnet-0bbb"]
      allowed_cidrs    = ["10.20.0.0/16"]
      certificate_arn  = "arn:aws:acm:us-east-1:123456789012:certificate/abcd"
      trigger_hostname = "alerts-trigger.test.example.com"
    }
  }

  assert {
    condition     = aws_lb_listener.trigger.protocol == "HTTPS" && aws_lb_listener.trigger.port == 443
    error_message = "With a certificate the trigger listener must be HTTPS on 443."
  }

  assert {
    condition     = aws_lb_listener.trigger.ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    error_message = "The HTTPS listener must use the TLS 1.2+/1.3 policy."
  }

  assert {
    condition     = output.trigger_url == "https://alerts-trigger.test.example.com/jobs"
    error_message = "trigger_url must be https on the hostname the certificate covers, got ${output.trigger_url}."
  }

  assert {
    condition     = alltrue([for rule in aws_vpc_security_group_ingress_rule.alb : rule.from_port == 443 && rule.to_port == 443])
    error_message = "Callers may reach the ALB on 443 only."
  }

  assert {
    condition     = length(aws_route53_record.trigger) == 0
    error_message = "No DNS record is created without route53_zone_id."
  }
}

run "alias_record_when_a_zone_is_given" {
  command = plan

  variables {
    network = {
      vpc_id           = "vpc-0123456789abcdef0"
      alb_subnet_ids   = ["subnet-0aaa", "subnet-0bbb"]
      allowed_cidrs    = ["10.20.0.0/16"]
      certificate_arn  = "arn:aws:acm:us-east-1:123456789012:certificate/abcd"
      trigger_hostname = "alerts-trigger.test.example.com"
      route53_zone_id  = "Z0123456789ABCDEFGHIJ"
    }
  }

  assert {
    condition     = length(aws_route53_record.trigger) == 1 && aws_route53_record.trigger[0].name == "alerts-trigger.test.example.com" && aws_route53_record.trigger[0].zone_id == "Z0123456789ABCDEFGHIJ"
    error_message = "With route53_zone_id the trigger hostname must get a record in that zone."
  }

  assert {
    condition     = aws_route53_record.trigger[0].type == "A" && one(aws_route53_record.trigger[0].alias).name == "internal-lp-alerts-test-123456.us-east-1.elb.amazonaws.com"
    error_message = "The record must be an alias A record of the ALB."
  }
}

run "plain_http_only_when_allowed" {
  command = plan

  variables {
    allow_plaintext_trigger = true
  }

  assert {
    condition     = aws_lb_listener.trigger.protocol == "HTTP" && aws_lb_listener.trigger.port == 80
    error_message = "allow_plaintext_trigger without a certificate gives an HTTP listener on 80."
  }

  assert {
    condition     = output.trigger_url == "http://internal-lp-alerts-test-123456.us-east-1.elb.amazonaws.com/jobs"
    error_message = "Over plain HTTP trigger_url is http on the ALB's DNS name, got ${output.trigger_url}."
  }
}
