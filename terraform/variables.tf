# Inputs of one Ledgerline environment. Everything has a safe default except what only
# the platform team can know: the project, the issuer URL and the source archive.

variable "project_id" {
  description = "Google Cloud project that holds the environment."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6-30 lowercase letters, digits, hyphens)."
  }
}

variable "region" {
  description = "Region of the functions, Cloud SQL, Artifact Registry, the scheduler and Redis."
  type        = string
  default     = "europe-west1"
}

variable "name_prefix" {
  description = "Prefix of every resource name, so several environments can share a project."
  type        = string
  default     = "ledgerline"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}$", var.name_prefix))
    error_message = "name_prefix must be 2-15 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "source_zip" {
  description = "Path of the source archive built by `make dist` (dist/ledgerline-<hash>.zip). Its name carries its content hash, so a new build is a new object and every function redeploys from it."
  type        = string
  validation {
    condition     = can(regex("ledgerline-[0-9a-f]{12}\\.zip$", var.source_zip))
    error_message = "source_zip must be the dist/ledgerline-<12 hex>.zip that make dist prints."
  }
}

# --- Functions -------------------------------------------------------------------------

variable "api_exposure" {
  description = "How the HTTP functions are reached: \"public\" (each function's URL is public; the application checks the JWT) or \"gateway\" (functions are internal-only behind API Gateway, configured from the OpenAPI document)."
  type        = string
  default     = "public"
  validation {
    condition     = contains(["public", "gateway"], var.api_exposure)
    error_message = "api_exposure must be \"public\" or \"gateway\"."
  }
}

variable "function_defaults" {
  description = "Sizing of a function whose manifest entry names none: memory (MiB), CPUs, concurrent requests per instance, and instance bounds."
  type = object({
    memory_mib    = number
    cpu           = string
    concurrency   = number
    min_instances = number
    max_instances = number
    timeout_s     = number
  })
  default = {
    memory_mib    = 256
    cpu           = "1"
    concurrency   = 8
    min_instances = 0
    max_instances = 3
    timeout_s     = 60
  }
  validation {
    condition     = var.function_defaults.memory_mib >= 128 && var.function_defaults.concurrency >= 1 && var.function_defaults.max_instances >= max(1, var.function_defaults.min_instances)
    error_message = "function_defaults needs memory_mib >= 128, concurrency >= 1 and max_instances >= max(1, min_instances)."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of every function: debug, info, warn or error."
  type        = string
  default     = "info"
  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be debug, info, warn or error."
  }
}

variable "trace_sample_ratio" {
  description = "Share of new traces sampled and exported to Cloud Trace (a caller's decision is followed)."
  type        = number
  default     = 0.1
  validation {
    condition     = var.trace_sample_ratio >= 0 && var.trace_sample_ratio <= 1
    error_message = "trace_sample_ratio must be between 0 and 1."
  }
}

variable "max_body_bytes" {
  description = "MAX_BODY_BYTES: the largest request body a function accepts (413 beyond it)."
  type        = number
  default     = 1048576
}

variable "imports" {
  description = "Largest import file (bytes; Cloud Run takes request bodies up to 32 MiB over HTTP/1) and most data rows per import."
  type = object({
    max_bytes = number
    max_rows  = number
  })
  default = {
    max_bytes = 33554432
    max_rows  = 300000
  }
  validation {
    condition     = var.imports.max_bytes >= 1024 && var.imports.max_bytes <= 1073741824 && var.imports.max_rows >= 1 && var.imports.max_rows <= 5000000
    error_message = "imports.max_bytes must be 1 KiB..1 GiB and imports.max_rows 1..5000000."
  }
}

variable "rate_limit" {
  description = "Requests per second and burst allowed to one tenant on one instance (0 turns the limit off). The effective limit is this times the instances serving the tenant."
  type = object({
    per_second = number
    burst      = number
  })
  default = {
    per_second = 100
    burst      = 200
  }
}

# --- Identity --------------------------------------------------------------------------

variable "agents" {
  description = "AI agents: which provider serves each agent (AGENT_PROVIDERS, e.g. \"ap_extract=gemini,forecast_narrative=mcp\"; empty: the free built-in agent for all), the run deadline and cache lifetime (Go durations), model prices (AGENT_PRICES, model=input:output per million tokens in the tenants' base currency), the Gemini model and Vertex AI location, the external MCP agent server and tool names, and the Secret Manager version of GEMINI_API_KEY (\"\": no key, Gemini is called on Vertex AI as each function's service account)."
  type = object({
    providers              = string
    timeout                = string
    cache_ttl              = string
    prices                 = string
    gemini_model           = string
    vertex_location        = string
    mcp_url                = string
    mcp_tools              = string
    gemini_api_key_version = string
  })
  default = {
    providers              = ""
    timeout                = "30s"
    cache_ttl              = "24h"
    prices                 = ""
    gemini_model           = "gemini-2.5-flash"
    vertex_location        = "us-central1"
    mcp_url                = ""
    mcp_tools              = ""
    gemini_api_key_version = ""
  }
  validation {
    condition     = can(regex("^[0-9]*$", var.agents.gemini_api_key_version)) && (var.agents.mcp_url == "" || can(regex("^https://", var.agents.mcp_url)))
    error_message = "agents.gemini_api_key_version must be a version number or empty (never latest), and agents.mcp_url an https URL or empty."
  }
}

variable "auth_issuer" {
  description = "AUTH_ISSUER: the iss of the tokens Ledgerline issues (its public API base URL, e.g. https://api.example.com)."
  type        = string
  validation {
    condition     = startswith(var.auth_issuer, "https://")
    error_message = "auth_issuer must be an https URL."
  }
}

variable "global_issuer" {
  description = "An OIDC issuer trusted for every tenant (AUTH_JWKS_ISSUER and AUTH_JWKS_URL), e.g. the company's own identity provider in a single-company deployment. Leave empty when tenants configure their issuers through the API."
  type = object({
    issuer   = string
    jwks_url = string
  })
  default = {
    issuer   = ""
    jwks_url = ""
  }
  validation {
    condition     = (var.global_issuer.issuer == "") == (var.global_issuer.jwks_url == "")
    error_message = "global_issuer.issuer and global_issuer.jwks_url go together."
  }
}

variable "auth_audience" {
  description = "AUTH_AUDIENCE: the aud Ledgerline's tokens carry and require."
  type        = string
  default     = "ledgerline"
}

variable "token_ttl" {
  description = "TOKEN_TTL: lifetime of the access tokens the token endpoint issues (Go duration)."
  type        = string
  default     = "15m"
  validation {
    condition     = can(regex("^[0-9]+(s|m|h)$", var.token_ttl))
    error_message = "token_ttl must be a whole number of seconds, minutes or hours, e.g. 15m."
  }
}

variable "secret_versions" {
  description = "Secret Manager version pinned for each secret (a number, never \"latest\", so a rotation is a reviewed change): webhook_secret_key (32 random bytes, base64) and token_signing_keys (PEM: the current signing key first, then previous keys still published)."
  type = object({
    webhook_secret_key = string
    token_signing_keys = string
  })
  validation {
    condition     = can(regex("^[0-9]+$", var.secret_versions.webhook_secret_key)) && can(regex("^[0-9]+$", var.secret_versions.token_signing_keys))
    error_message = "secret versions must be version numbers, not aliases such as latest."
  }
}

# --- Database --------------------------------------------------------------------------

variable "database" {
  description = "Cloud SQL for PostgreSQL: version, machine tier, high availability (regional), backups with point-in-time recovery, max_connections, and the pool size of each function instance (DB_MAX_CONNS)."
  type = object({
    version              = string
    tier                 = string
    high_availability    = bool
    backup_start_time    = string
    backups_retained     = number
    pitr_days            = number
    max_connections      = number
    reserved_connections = number
    pool_size            = number
    deletion_protection  = bool
    disk_size_gb         = number
    maintenance_day      = number
    maintenance_hour     = number
  })
  default = {
    version              = "POSTGRES_15"
    tier                 = "db-custom-2-7680"
    high_availability    = true
    backup_start_time    = "01:00"
    backups_retained     = 14
    pitr_days            = 7
    max_connections      = 500
    reserved_connections = 20
    pool_size            = 2
    deletion_protection  = true
    disk_size_gb         = 50
    maintenance_day      = 7
    maintenance_hour     = 3
  }
  validation {
    condition     = can(regex("^POSTGRES_1[5-9]$", var.database.version))
    error_message = "database.version must be POSTGRES_15 or later."
  }
  validation {
    condition     = var.database.pitr_days >= 1 && var.database.pitr_days <= 7 && var.database.backups_retained >= 7
    error_message = "Point-in-time recovery needs 1-7 days of logs and at least 7 retained backups."
  }
  validation {
    condition     = var.database.pool_size >= 1 && var.database.pool_size <= 100
    error_message = "database.pool_size (DB_MAX_CONNS) must be 1..100."
  }
}

variable "network" {
  description = "Private networking: with private_ip the database has no public address and the functions reach it (and Redis) through a Serverless VPC Access connector in this VPC; the VPC must have private services access set up for Cloud SQL."
  type = object({
    private_ip     = bool
    vpc_self_link  = string
    connector_cidr = string
  })
  default = {
    private_ip     = false
    vpc_self_link  = ""
    connector_cidr = "10.8.0.0/28"
  }
  validation {
    condition     = !var.network.private_ip || var.network.vpc_self_link != ""
    error_message = "network.vpc_self_link is required when network.private_ip is true."
  }
}

# --- Optional parts --------------------------------------------------------------------

variable "redis" {
  description = "Optional Memorystore for Redis caching tenant settings, feature flags and JWKS documents across instances (the functions fall back to the database when it is unavailable). Needs network.vpc_self_link."
  type = object({
    enabled   = bool
    tier      = string
    memory_gb = number
  })
  default = {
    enabled   = false
    tier      = "STANDARD_HA"
    memory_gb = 1
  }
  validation {
    condition     = contains(["BASIC", "STANDARD_HA"], var.redis.tier)
    error_message = "redis.tier must be BASIC or STANDARD_HA."
  }
}

variable "pubsub" {
  description = "Delivery of Pub/Sub messages to the processors: acknowledgement deadline, retry backoff, and the attempts after which a message goes to the dead-letter topic."
  type = object({
    ack_deadline_s        = number
    min_backoff_s         = number
    max_backoff_s         = number
    max_delivery_attempts = number
    retention_days        = number
  })
  default = {
    ack_deadline_s        = 60
    min_backoff_s         = 10
    max_backoff_s         = 600
    max_delivery_attempts = 10
    retention_days        = 7
  }
  validation {
    condition     = var.pubsub.max_delivery_attempts >= 5 && var.pubsub.max_delivery_attempts <= 100
    error_message = "Pub/Sub allows 5..100 delivery attempts before dead-lettering."
  }
}

variable "scheduler_time_zone" {
  description = "Time zone of the scheduled jobs' cron expressions (the daily close)."
  type        = string
  default     = "Etc/UTC"
}

variable "deployer_service_account" {
  description = "E-mail of the service account Cloud Build runs the pipeline as. It may impersonate the migrator for the migration step; empty when migrations are run by hand."
  type        = string
  default     = ""
}

variable "labels" {
  description = "Labels added to every resource that takes them."
  type        = map(string)
  default     = {}
}
