# Optional gateway (api_exposure = "gateway"): the HTTP functions become internal-only
# and the API is served by a Cloud Endpoints gateway (ESPv2 on Cloud Run) configured
# from the OpenAPI document itself, one backend per operation: each operation gets an
# x-google-backend naming the function that implements it (operationId = entry point).
# API Gateway's own resources exist only in the google-beta provider; Endpoints with
# ESPv2 is the same proxy, managed here with the google provider alone.
#
# The gateway calls a function with its own identity token in Authorization and passes
# the caller's token in X-Forwarded-Authorization, which the functions read when
# AUTH_FORWARDED_HEADER is set (only in this mode: a public function must not trust it).

locals {
  gateway      = var.api_exposure == "gateway"
  openapi      = yamldecode(file("${path.module}/../shared/openapi/openapi.yaml"))
  http_methods = ["get", "put", "post", "delete", "patch"]
  gateway_host = local.gateway ? "${var.name_prefix}-gateway-${data.google_project.this.number}.${var.region}.run.app" : ""

  gateway_openapi = merge(local.openapi, {
    servers = [{ url = "https://${local.gateway_host}" }]
    paths = {
      for path, item in local.openapi.paths : path => merge(item, {
        for method, op in item : method => merge(op, {
          "x-google-backend" = {
            address          = google_cloudfunctions2_function.fn[op.operationId].service_config[0].uri
            jwt_audience     = google_cloudfunctions2_function.fn[op.operationId].service_config[0].uri
            path_translation = "APPEND_PATH_TO_ADDRESS"
            deadline         = var.function_defaults.timeout_s
          }
        }) if contains(local.http_methods, method)
      })
    }
  })
}

resource "google_service_account" "gateway" {
  count        = local.gateway ? 1 : 0
  account_id   = "${var.name_prefix}-gateway"
  display_name = "Ledgerline API gateway"
  description  = "The only identity allowed to invoke the HTTP functions in gateway mode."
}

resource "google_endpoints_service" "api" {
  count          = local.gateway ? 1 : 0
  service_name   = local.gateway_host
  openapi_config = yamlencode(local.gateway_openapi)
}

resource "google_project_iam_member" "gateway_service_control" {
  count   = local.gateway ? 1 : 0
  project = var.project_id
  role    = "roles/servicemanagement.serviceController"
  member  = google_service_account.gateway[0].member
}

resource "google_cloud_run_v2_service" "gateway" {
  count    = local.gateway ? 1 : 0
  name     = "${var.name_prefix}-gateway"
  location = var.region
  ingress  = "INGRESS_TRAFFIC_ALL"
  labels   = local.labels

  template {
    service_account = google_service_account.gateway[0].email
    scaling {
      min_instance_count = 1
      max_instance_count = 20
    }
    containers {
      image = "gcr.io/endpoints-release/endpoints-runtime-serverless:2"
      env {
        name  = "ESPv2_ARGS"
        value = "--service=${google_endpoints_service.api[0].service_name},--rollout_strategy=managed,--cors_preset=basic"
      }
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_cloud_run_v2_service_iam_member" "gateway_public" {
  count    = local.gateway ? 1 : 0
  name     = google_cloud_run_v2_service.gateway[0].name
  location = var.region
  role     = "roles/run.invoker"
  member   = "allUsers"
}
