output "function_urls" {
  description = "URL of each HTTP function, by entry point."
  value       = { for name, f in local.http_functions : name => google_cloudfunctions2_function.fn[name].service_config[0].uri }
}

output "api_url" {
  description = "Base URL of the API: the gateway in gateway mode, otherwise empty (call each function's URL)."
  value       = local.gateway ? google_cloud_run_v2_service.gateway[0].uri : ""
}

output "jwks_url" {
  description = "Where Ledgerline publishes the keys its tokens are signed with."
  value       = local.jwks_url
}

output "topics" {
  description = "Pub/Sub topics, by name."
  value       = { for name, t in google_pubsub_topic.topic : name => t.id }
}

output "instance_connection_name" {
  description = "Cloud SQL instance (project:region:instance) for the Cloud SQL connector."
  value       = google_sql_database_instance.main.connection_name
}

output "migrator_service_account" {
  description = "Service account the pipeline impersonates to migrate (MIGRATOR_SERVICE_ACCOUNT)."
  value       = google_service_account.migrator.email
}

output "migrator_db_user" {
  description = "IAM database user the pipeline migrates as."
  value       = google_sql_user.migrator.name
}

output "db_users" {
  description = "Each function's IAM database user and the database role it is a member of."
  value       = { for name, f in local.functions : google_sql_user.fn[name].name => "ledgerline_${f.db_role}" }
}

output "connection_budget" {
  description = "Cloud SQL connections all functions may hold at once (max instances x DB_MAX_CONNS)."
  value       = local.connection_budget
}
