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
  listener_port = var.network.certificate_arn == null ? 80 : 443
}

locals {
  # Load balancer and target group names are limited to 32 characters: "lp" stands for the project.
  alb_name = "lp-alerts-${var.environment}"
}

resource "aws_lb" "trigger" {
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
  protocol          = var.network.certificate_arn == null ? "HTTP" : "HTTPS"
  certificate_arn   = var.network.certificate_arn
  ssl_policy        = var.network.certificate_arn == null ? null : "ELBSecurityPolicy-TLS13-1-2-2021-06"

  default_action {
    type = "fixed-response"

    fixed_response {
      content_type = "application/json"
      message_body = "{\"error\":\"not found\"}"
      status_code  = "404"
    }
  }

  tags = var.tags
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
      values = ["/jobs/*"]
    }
  }

  condition {
    http_request_method {
      values = ["GET"]
    }
  }

  tags = var.tags
}
