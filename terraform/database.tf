# Cloud SQL for PostgreSQL: IAM database authentication only (no passwords anywhere),
# connections only through the Cloud SQL connectors, backups with point-in-time
# recovery, regional high availability.

resource "google_sql_database_instance" "main" {
  name                = "${var.name_prefix}-db"
  region              = var.region
  database_version    = var.database.version
  deletion_protection = var.database.deletion_protection

  settings {
    tier                        = var.database.tier
    edition                     = "ENTERPRISE"
    availability_type           = var.database.high_availability ? "REGIONAL" : "ZONAL"
    disk_type                   = "PD_SSD"
    disk_size                   = var.database.disk_size_gb
    disk_autoresize             = true
    connector_enforcement       = "REQUIRED"
    deletion_protection_enabled = var.database.deletion_protection
    user_labels                 = local.labels

    database_flags {
      name  = "cloudsql.iam_authentication"
      value = "on"
    }
    database_flags {
      name  = "max_connections"
      value = tostring(var.database.max_connections)
    }
    # Statements are logged when slow, never their parameters (they hold finance data).
    database_flags {
      name  = "log_min_duration_statement"
      value = "1000"
    }

    backup_configuration {
      enabled                        = true
      start_time                     = var.database.backup_start_time
      point_in_time_recovery_enabled = true
      transaction_log_retention_days = var.database.pitr_days
      backup_retention_settings {
        retained_backups = var.database.backups_retained
        retention_unit   = "COUNT"
      }
    }

    ip_configuration {
      ipv4_enabled    = !var.network.private_ip
      private_network = var.network.private_ip ? var.network.vpc_self_link : null
      ssl_mode        = "ENCRYPTED_ONLY"
    }

    maintenance_window {
      day          = var.database.maintenance_day
      hour         = var.database.maintenance_hour
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled  = true
      record_application_tags = false
      record_client_address   = false
    }
  }

  lifecycle {
    # Every instance of every function may hold a full pool at once; if that could
    # exceed the server's connections, the busiest moment fails with "too many clients".
    precondition {
      condition     = local.connection_budget <= var.database.max_connections - var.database.reserved_connections
      error_message = "Connection budget exceeded: the functions' max instances x DB_MAX_CONNS (${local.connection_budget}) must stay within max_connections (${var.database.max_connections}) less ${var.database.reserved_connections} reserved. Lower max_instances in the manifest or function_defaults, lower database.pool_size, or raise database.max_connections."
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_sql_database" "main" {
  name     = "ledgerline"
  instance = google_sql_database_instance.main.name
}

# One IAM database user per function, a member of the database role its manifest entry
# names (the roles are created by the migrations): ledgerline_app for the API and the
# processors, ledgerline_readonly for the reports and exports, ledgerline_relay for the
# outbox sweep and the daily close, ledgerline_ops for the dead letters. Row-level
# security applies to all of them; none owns a table.
resource "google_sql_user" "fn" {
  for_each       = local.functions
  name           = trimsuffix(google_service_account.fn[each.key].email, ".gserviceaccount.com")
  instance       = google_sql_database_instance.main.name
  type           = "CLOUD_IAM_SERVICE_ACCOUNT"
  database_roles = ["ledgerline_${each.value.db_role}"]
}

# The migrator owns the schema: the pipeline runs `ledgerline migrate up` as it.
resource "google_service_account" "migrator" {
  account_id   = "${var.name_prefix}-migrator"
  display_name = "Ledgerline migrator"
  description  = "Applies database migrations and role grants from Cloud Build."
}

resource "google_project_iam_member" "migrator_sql" {
  for_each = toset(["roles/cloudsql.client", "roles/cloudsql.instanceUser"])
  project  = var.project_id
  role     = each.key
  member   = google_service_account.migrator.member
}

resource "google_service_account_iam_member" "deployer_impersonates_migrator" {
  count              = var.deployer_service_account == "" ? 0 : 1
  service_account_id = google_service_account.migrator.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${var.deployer_service_account}"
}

# cloudsqlsuperuser lets it create the roles the migrations define; it owns what it
# creates, so the functions' roles never do.
resource "google_sql_user" "migrator" {
  name           = trimsuffix(google_service_account.migrator.email, ".gserviceaccount.com")
  instance       = google_sql_database_instance.main.name
  type           = "CLOUD_IAM_SERVICE_ACCOUNT"
  database_roles = ["cloudsqlsuperuser"]
}
