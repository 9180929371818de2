# The trigger: Airflow calls POST /jobs on the ALB with the shared secret header.

resource "aws_security_group" "alb" {
  name        = "${local.prefix}-alb-${var.environment}"
  description = "Who may trigger alert jobs"
  vpc_id      = var.network.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb" {
  for_each = toset(var.network.allowed_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "Trigger callers (Airflow/MWAA)"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = local.listener_port
  to_port           = local.listener_port
}

locals {
  tls           = var.network.certificate_arn != null
  listener_port = local.tls ? 443 : 80
  # What a caller can use: the certificate's name over TLS; the ALB's own name only over plain HTTP
  # (no certificate can cover *.elb.amazonaws.com).
  trigger_url = local.tls ? "https://${coalesce(var.network.trigger_hostname, "-")}/jobs" : "http://${aws_lb.trigger.dns_name}/jobs"
}

locals {
  # Load balancer and target group names are limited to 32 characters: "lp" stands for the project.
  alb_name = "lp-alerts-${var.environment}"
}

resource "aws_lb" "trigger" {
  #checkov:skip=CKV_AWS_91:The coordinator logs every trigger request it is given (job id, caller, outcome); ALB access logs would need an SSE-S3 log bucket per environment for the same lines.
  #checkov:skip=CKV_AWS_150:The ALB holds no data and is re-created by an apply; deletion protection would only block `terraform destroy` of an environment.
  name               = local.alb_name
  internal           = var.network.internal
  load_balancer_type = "application"
  security_groups    = [aws_security_group.alb.id]
  subnets            = var.network.alb_subnet_ids
  # A job of thousands of alerts is staged within the request: let it answer.
  idle_timeout               = 900
  drop_invalid_header_fields = true
  tags                       = var.tags
}

resource "aws_lb_target_group" "coordinator" {
  name        = "lp-alerts-coordinator-${var.environment}"
  target_type = "lambda"
  tags        = var.tags
}

resource "aws_lambda_permission" "alb" {
  statement_id  = "AllowTriggerAlb"
  action        = "lambda:InvokeFunction"
  function_name = module.coordinator.function_name
  principal     = "elasticloadbalancing.amazonaws.com"
  source_arn    = aws_lb_target_group.coordinator.arn
}

resource "aws_lb_target_group_attachment" "coordinator" {
  target_group_arn = aws_lb_target_group.coordinator.arn
  target_id        = module.coordinator.function_arn
  depends_on       = [aws_lambda_permission.alb]
}

resource "aws_lb_listener" "trigger" {
  load_balancer_arn = aws_lb.trigger.arn
  port              = local.listener_port
  protocol          = local.tls ? "HTTPS" : "HTTP"
  certificate_arn   = var.network.certificate_arn
  ssl_policy        = local.tls ? "ELBSecurityPolicy-TLS13-1-2-2021-06" : null

  default_action {
    type = "fixed-response"

    fixed_response {
      content_type = "application/json"
      message_body = "{\"error\":\"not found\"}"
      status_code  = "404"
    }
  }

  tags = var.tags

  lifecycle {
    # The trigger carries a shared secret in a header: never in clear unless a root says so.
    precondition {
      condition     = local.tls || var.allow_plaintext_trigger
      error_message = "network.certificate_arn is required: the trigger listener would be plain HTTP and the trigger secret would cross the network in clear. Set allow_plaintext_trigger = true only where no network is crossed (the local emulator)."
    }

    precondition {
      condition     = !local.tls || var.network.trigger_hostname != null
      error_message = "network.trigger_hostname is required with a certificate: the name the certificate covers, which callers use (the ALB's own *.elb.amazonaws.com name cannot be covered by a certificate)."
    }
  }
}

resource "aws_lb_listener_rule" "jobs" {
  listener_arn = aws_lb_listener.trigger.arn
  priority     = 10

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.coordinator.arn
  }

  condition {
    path_pattern {
      values = ["/jobs"]
    }
  }

  condition {
    http_request_method {
      values = ["POST"]
    }
  }

  tags = var.tags
}

resource "aws_lb_listener_rule" "job_status" {
  listener_arn = aws_lb_listener.trigger.arn
  priority     = 20

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.coordinator.arn
  }

  condition {
    path_pattern {
      values = ["/jobs", "/jobs/*"] # the job list, and one job's status
    }
  }

  condition {
    http_request_method {
      values = ["GET"]
    }
  }

  tags = var.tags
}

# The trigger's name, when the caller gives the hosted zone it lives in (else it is the caller's DNS).
resource "aws_route53_record" "trigger" {
  count = local.tls && var.network.route53_zone_id != null ? 1 : 0

  zone_id = var.network.route53_zone_id
  name    = var.network.trigger_hostname
  type    = "A"

  alias {
    name                   = aws_lb.trigger.dns_name
    zone_id                = aws_lb.trigger.zone_id
    evaluate_target_health = false
  }
}
