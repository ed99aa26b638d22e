# One Cloud Run function (2nd gen) per manifest entry, each with its own service
# account holding only what that function needs.

resource "google_service_account" "fn" {
  for_each     = local.functions
  account_id   = each.value.account_id
  display_name = "Ledgerline ${each.key}"
  description  = "Runs the ${each.key} function: Cloud SQL as an IAM user mapped to ledgerline_${each.value.db_role}, publishes to ${length(each.value.publishes) == 0 ? "nothing" : join(", ", each.value.publishes)}."
}

# Cloud SQL through the Go connector with IAM database authentication. These roles
# cannot be narrowed to one instance; the database grants (ledgerline_app, _readonly,
# _relay, _ops) are what separates the functions inside it.
resource "google_project_iam_member" "sql_client" {
  for_each = local.functions
  project  = var.project_id
  role     = "roles/cloudsql.client"
  member   = google_service_account.fn[each.key].member
}

resource "google_project_iam_member" "sql_instance_user" {
  for_each = local.functions
  project  = var.project_id
  role     = "roles/cloudsql.instanceUser"
  member   = google_service_account.fn[each.key].member
}

# The functions that run AI agents call Gemini on Vertex AI as themselves.
resource "google_project_iam_member" "vertex_user" {
  for_each = local.agent_functions
  project  = var.project_id
  role     = "roles/aiplatform.user"
  member   = google_service_account.fn[each.key].member
}

resource "google_project_iam_member" "trace_agent" {
  for_each = local.functions
  project  = var.project_id
  role     = "roles/cloudtrace.agent"
  member   = google_service_account.fn[each.key].member
}

# Metrics (the agent gateway's runs, tokens and cost) go to Cloud Monitoring over OTLP.
resource "google_project_iam_member" "metric_writer" {
  for_each = local.functions
  project  = var.project_id
  role     = "roles/monitoring.metricWriter"
  member   = google_service_account.fn[each.key].member
}

resource "google_cloudfunctions2_function" "fn" {
  for_each    = local.functions
  name        = each.value.service
  location    = var.region
  description = "Ledgerline ${each.key} (${each.value.kind == "http" ? "${each.value.method} ${each.value.path}" : "topic ${each.value.topic}"})"
  labels      = local.labels

  build_config {
    runtime           = "go126"
    entry_point       = each.key
    docker_repository = google_artifact_registry_repository.functions.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = "${each.value.memory_mib}Mi"
    available_cpu                    = each.value.cpu
    max_instance_request_concurrency = each.value.concurrency
    min_instance_count               = each.value.min_instances
    max_instance_count               = each.value.max_instances
    timeout_seconds                  = var.function_defaults.timeout_s
    service_account_email            = google_service_account.fn[each.key].email
    all_traffic_on_latest_revision   = true
    # Processors are reached only by their push subscriptions (same-project Pub/Sub
    # counts as internal); HTTP functions are public or sit behind API Gateway. The key
    # set is always public: other parties verify Ledgerline's tokens with it.
    ingress_settings = (
      each.value.kind == "cloudevent" ? "ALLOW_INTERNAL_ONLY" :
      var.api_exposure == "public" || each.value.public ? "ALLOW_ALL" : "ALLOW_INTERNAL_AND_GCLB"
    )
    vpc_connector                 = var.network.private_ip || var.redis.enabled ? google_vpc_access_connector.functions[0].id : null
    vpc_connector_egress_settings = var.network.private_ip || var.redis.enabled ? "PRIVATE_RANGES_ONLY" : null

    environment_variables = merge(
      local.common_env,
      {
        DB_USER    = trimsuffix(google_service_account.fn[each.key].email, ".gserviceaccount.com")
        GOMEMLIMIT = "${floor(each.value.memory_mib * 9 / 10)}MiB"
      },
      each.value.gogc > 0 ? { GOGC = tostring(each.value.gogc) } : {},
    )

    dynamic "secret_environment_variables" {
      # A secret without a pinned version is left unset (see local.secret_versions).
      for_each = toset([for s in each.value.secrets : s if local.secret_versions[s] != ""])
      content {
        key        = secret_environment_variables.value
        project_id = var.project_id
        secret     = google_secret_manager_secret.secret[secret_environment_variables.value].secret_id
        version    = local.secret_versions[secret_environment_variables.value]
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.accessor,
    google_sql_user.fn,
  ]
}

# Who may invoke the HTTP functions: anyone (the application verifies the JWT) or only
# API Gateway's service account. The token endpoint and the key set are public either way.
resource "google_cloud_run_service_iam_member" "http_invoker" {
  for_each = local.http_functions
  location = var.region
  service  = google_cloudfunctions2_function.fn[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = var.api_exposure == "public" || each.value.public ? "allUsers" : google_service_account.gateway[0].member
}
