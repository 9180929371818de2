"""What a manifest pass may do (:class:`ManifestPolicy`, from the handlers' settings) and what it did
(:class:`RunReport`): shared by the claims, publish and pass modules."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

START_STEPFUNCTIONS = "stepfunctions"
START_EVENTBRIDGE = "eventbridge"
START_MODES = frozenset({START_STEPFUNCTIONS, START_EVENTBRIDGE})


@dataclass(frozen=True, kw_only=True)
class ManifestPolicy:
    """What to build and where to send it. Built by ``config.CoreSettings.policy()``: the deployed values
    come from Terraform, so nothing here carries a default of its own except ``min_fill``."""

    manifest_bucket: str
    output_bucket: str
    glue_job_name: str
    spark_glue_job_name: str
    spark_threshold_bytes: int
    """Manifests above this many bytes go to the Spark job (0, or no Spark job name: never)."""
    max_files: int
    max_bytes: int
    orphan_age: timedelta
    start_retry_after: timedelta
    claim_recovery_after: timedelta
    start_mode: str
    state_machine_arn: str
    event_bus_name: str
    max_manifests_per_run: int
    claim_workers: int
    min_fill: float = 0.5
    """A full batch that other builders left less than this share of (files or bytes, whichever is
    more) is given back to ``pending`` rather than sent as a small manifest."""

    def __post_init__(self) -> None:
        if self.start_mode not in START_MODES:
            raise ValueError(f"start_mode must be one of {sorted(START_MODES)}, got {self.start_mode!r}")
        if self.start_mode == START_STEPFUNCTIONS and not self.state_machine_arn:
            raise ValueError("start_mode stepfunctions needs state_machine_arn")
        if self.start_mode == START_EVENTBRIDGE and not self.event_bus_name:
            raise ValueError("start_mode eventbridge needs event_bus_name")
        if self.max_files < 1 or self.max_bytes < 1:
            raise ValueError("max_files and max_bytes must be positive")
        if self.max_manifests_per_run < 1 or self.claim_workers < 1:
            raise ValueError("max_manifests_per_run and claim_workers must be positive")

    def glue_job_for(self, total_bytes: int) -> str:
        spark = self.spark_glue_job_name and 0 < self.spark_threshold_bytes < total_bytes
        return self.spark_glue_job_name if spark else self.glue_job_name


@dataclass
class RunReport:
    """What one pass did for one ``date_prefix`` (manifest ids per outcome)."""

    date_prefix: str
    created: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    """Left ``pending`` because the circuit breaker is open."""
    start_failed: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    contended: int = 0
    """Planned batches skipped because another builder claimed their leader first."""
    released: int = 0
    """Batches given back to ``pending`` because other builders left too little of them."""
    waiting: int = 0
    """Pending files left for a later pass (partial batch, not yet orphaned)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
