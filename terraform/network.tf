# Optional private networking: a Serverless VPC Access connector for the functions to
# reach the database's private IP and Memorystore, and the Redis instance itself.

resource "google_vpc_access_connector" "functions" {
  count         = var.network.private_ip || var.redis.enabled ? 1 : 0
  name          = "${var.name_prefix}-vpc"
  region        = var.region
  network       = var.network.vpc_self_link
  ip_cidr_range = var.network.connector_cidr
  min_instances = 2
  max_instances = 4

  lifecycle {
    precondition {
      condition     = var.network.vpc_self_link != ""
      error_message = "Private IP and Redis need network.vpc_self_link."
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_redis_instance" "cache" {
  count              = var.redis.enabled ? 1 : 0
  name               = "${var.name_prefix}-cache"
  region             = var.region
  tier               = var.redis.tier
  memory_size_gb     = var.redis.memory_gb
  redis_version      = "REDIS_7_2"
  authorized_network = var.network.vpc_self_link
  connect_mode       = "DIRECT_PEERING"
  labels             = local.labels

  # Only caches live here (settings, flags, key sets): losing them costs a database read.
  persistence_config {
    persistence_mode = "DISABLED"
  }

  depends_on = [google_project_service.apis]
}
