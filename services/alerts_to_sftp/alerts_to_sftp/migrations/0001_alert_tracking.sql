-- One row per job (namespace 'alert-jobs') and per alert (namespace 'job:<job_id>'), in the layout of
-- pipelines_shared.tracking.sql (SqlTrackingStore). tests check the two stay identical.
CREATE TABLE IF NOT EXISTS alert_tracking (
  namespace VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `key` VARCHAR(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  status VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  attributes JSON NOT NULL,
  version INTEGER NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  insert_token VARCHAR(32),
  PRIMARY KEY (namespace, `key`),
  INDEX ix_alert_tracking_namespace_status (namespace, status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
