# The function set comes from the manifest (shared/manifest/functions.json), the one
# source of truth the Go code registers from: adding a function there deploys it here,
# with its own service account, its subscription or its invoker policy. The locals in
# this file depend only on the manifest and variables (no resources), so the Go test in
# this directory evaluates them and checks them against the code.

locals {
  manifest = jsondecode(file("${path.module}/../shared/manifest/functions.json"))

  # What every write through the HTTP API publishes after commit (the outbox relay's
  # topic, EVENTS_TOPIC); processors name their topics in the manifest.
  events_topic      = "ledgerline-events"
  dead_letter_topic = "ledgerline-dead-letters"

  functions = {
    for f in local.manifest.functions : f.name => {
      kind     = f.kind
      method   = try(f.method, "")
      path     = try(f.path, "")
      topic    = try(f.topic, "")
      schedule = try(f.schedule, "")
      # Cloud Run service names are lowercase with hyphens: InvoicesGet -> invoices-get.
      service = "${var.name_prefix}-${lower(replace(f.name, "/([a-z0-9])([A-Z])/", "$1-$2"))}"
      # Service account ids are 6-30 characters; a short hash keeps long names unique.
      account_id    = "fn-${substr(sha256(f.name), 0, 6)}-${substr(lower(replace(f.name, "/([a-z0-9])([A-Z])/", "$1-$2")), 0, 20)}"
      public        = f.kind == "http" && try(f.permission, "") == "public"
      db_role       = try(f.role, "app")
      memory_mib    = try(f.memory_mib, var.function_defaults.memory_mib)
      cpu           = try(f.cpu, var.function_defaults.cpu)
      concurrency   = try(f.concurrency, var.function_defaults.concurrency)
      min_instances = try(f.min_instances, var.function_defaults.min_instances)
      max_instances = try(f.max_instances, var.function_defaults.max_instances)
      gogc          = try(f.gogc, 0)
      secrets       = try(f.secrets, [])
      publishes = distinct(concat(
        try(f.publishes, []),
        f.kind == "http" && try(f.method, "") != "GET" && try(f.role, "app") == "app" ? [local.events_topic] : [],
      ))
    }
  }

  http_functions = { for name, f in local.functions : name => f if f.kind == "http" }
  processors     = { for name, f in local.functions : name => f if f.kind == "cloudevent" }
  scheduled      = { for name, f in local.processors : name => f if f.schedule != "" }

  # Every topic a processor listens to or a function publishes to, and the dead-letter
  # topic the subscriptions forward to.
  topics = toset(distinct(concat(
    [local.events_topic, local.dead_letter_topic],
    [for f in local.processors : f.topic],
    flatten([for f in local.functions : f.publishes]),
  )))

  # One grant per (function, topic it publishes to).
  publisher_grants = {
    for pair in flatten([for name, f in local.functions : [for t in f.publishes : { function = name, topic = t }]]) :
    "${pair.function}/${pair.topic}" => pair
  }

  # Secrets, by the environment variable they fill, and one accessor grant per
  # (function, secret it reads).
  secret_ids = {
    WEBHOOK_SECRET_KEY = "${var.name_prefix}-webhook-secret-key"
    TOKEN_SIGNING_KEYS = "${var.name_prefix}-token-signing-keys"
    GEMINI_API_KEY     = "${var.name_prefix}-gemini-api-key"
  }
  # The version each secret is read at; "" leaves a secret unset (GEMINI_API_KEY: the
  # agents then call Vertex AI as their function's service account).
  secret_versions = {
    WEBHOOK_SECRET_KEY = var.secret_versions.webhook_secret_key
    TOKEN_SIGNING_KEYS = var.secret_versions.token_signing_keys
    GEMINI_API_KEY     = var.agents.gemini_api_key_version
  }
  # The functions that run AI agents: those that read the Gemini key. They may call
  # Vertex AI.
  agent_functions = { for name, f in local.functions : name => f if contains(f.secrets, "GEMINI_API_KEY") }
  secret_grants = {
    for pair in flatten([for name, f in local.functions : [for s in f.secrets : { function = name, env = s }]]) :
    "${pair.function}/${pair.env}" => pair
  }

  # Cloud SQL connections: every instance of every function may hold a full pool.
  connection_budget = sum([for f in local.functions : f.max_instances * var.database.pool_size])

  # Ledgerline's own tokens are verified against its published key set; only the token
  # endpoint and the key-set endpoint hold the private keys.
  jwks_url = "https://${var.region}-${var.project_id}.cloudfunctions.net/${local.functions["JWKS"].service}"

  # The environment every function gets: exactly the fields of shared/config.Config that
  # production sets (DATABASE_URL and AUTH_DEV_KEY_FILE are for local use only). The Go
  # test compares these keys, the per-function ones and the secrets with the struct.
  common_env = {
    GOOGLE_CLOUD_PROJECT          = var.project_id
    LOG_LEVEL                     = var.log_level
    INSTANCE_CONNECTION_NAME      = google_sql_database_instance.main.connection_name
    DB_NAME                       = google_sql_database.main.name
    DB_PRIVATE_IP                 = tostring(var.network.private_ip)
    DB_MAX_CONNS                  = tostring(var.database.pool_size)
    EVENTS_TOPIC                  = google_pubsub_topic.topic[local.events_topic].name
    AUTH_ISSUER                   = var.auth_issuer
    AUTH_AUDIENCE                 = var.auth_audience
    AUTH_JWKS_ISSUER              = var.global_issuer.issuer
    AUTH_JWKS_URL                 = var.global_issuer.jwks_url
    AUTH_FORWARDED_HEADER         = tostring(var.api_exposure == "gateway")
    ISSUER_ALLOW_LOOPBACK         = "false"
    TOKEN_TTL                     = var.token_ttl
    TOKEN_JWKS_URL                = "${local.jwks_url}/.well-known/jwks.json"
    IMPORT_MAX_BYTES              = tostring(var.imports.max_bytes)
    IMPORT_MAX_ROWS               = tostring(var.imports.max_rows)
    PUBSUB_MAX_DELIVERY_ATTEMPTS  = tostring(var.pubsub.max_delivery_attempts)
    TRACE_EXPORTER                = "cloudtrace"
    TRACE_SAMPLE_RATIO            = tostring(var.trace_sample_ratio)
    MAX_BODY_BYTES                = tostring(var.max_body_bytes)
    RATE_LIMIT_PER_SECOND         = tostring(var.rate_limit.per_second)
    RATE_LIMIT_BURST              = tostring(var.rate_limit.burst)
    WEBHOOK_ALLOW_PRIVATE_TARGETS = "false"
    REDIS_URL                     = var.redis.enabled ? "redis://${google_redis_instance.cache[0].host}:${google_redis_instance.cache[0].port}/0" : ""
    AGENT_PROVIDERS               = var.agents.providers
    AGENT_TIMEOUT                 = var.agents.timeout
    AGENT_CACHE_TTL               = var.agents.cache_ttl
    AGENT_PRICES                  = var.agents.prices
    GEMINI_MODEL                  = var.agents.gemini_model
    VERTEX_LOCATION               = var.agents.vertex_location
    MCP_AGENT_URL                 = var.agents.mcp_url
    MCP_AGENT_TOOLS               = var.agents.mcp_tools
  }

  labels = merge(var.labels, { app = "ledgerline", environment = var.name_prefix })
}

data "google_project" "this" {}

resource "google_project_service" "apis" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "aiplatform.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "sqladmin.googleapis.com",
    "cloudtrace.googleapis.com",
    "logging.googleapis.com",
    "redis.googleapis.com",
    "vpcaccess.googleapis.com",
    "apigateway.googleapis.com",
    "servicecontrol.googleapis.com",
    "servicemanagement.googleapis.com",
  ])
  service            = each.key
  disable_on_destroy = false
}

# Cloud Build stores each function's image here.
resource "google_artifact_registry_repository" "functions" {
  repository_id = "${var.name_prefix}-functions"
  location      = var.region
  format        = "DOCKER"
  description   = "Images Cloud Functions builds from Ledgerline's source archive."
  labels        = local.labels

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }

  depends_on = [google_project_service.apis]
}

# The source archive, named by its content hash so every build is a new object.
resource "google_storage_bucket" "source" {
  name                        = "${var.project_id}-${var.name_prefix}-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = local.labels

  lifecycle_rule {
    condition {
      age = 90
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket_object" "source" {
  name   = basename(var.source_zip)
  bucket = google_storage_bucket.source.name
  source = var.source_zip
}
