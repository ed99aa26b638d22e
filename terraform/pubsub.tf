# Topics, the processors' push subscriptions, dead-lettering and the scheduled jobs.
#
# Subscriptions are Terraform's (not Eventarc's) so their retry and dead-letter policies
# are reviewed here, and each is named after its processor's entry point: the
# dead-letter store finds a message's source topic from that name when replaying it.

resource "google_pubsub_topic" "topic" {
  for_each                   = local.topics
  name                       = each.key
  labels                     = local.labels
  message_retention_duration = "${var.pubsub.retention_days * 86400}s"
  depends_on                 = [google_project_service.apis]
}

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.publisher_grants
  topic    = google_pubsub_topic.topic[each.value.topic].name
  role     = "roles/pubsub.publisher"
  member   = google_service_account.fn[each.value.function].member
}

# The identity Pub/Sub presents (an OIDC token) when pushing to a processor.
resource "google_service_account" "pusher" {
  account_id   = "${var.name_prefix}-pusher"
  display_name = "Ledgerline Pub/Sub push"
  description  = "Signs the OIDC tokens of push deliveries to the processors."
}

resource "google_cloud_run_service_iam_member" "pusher_invokes" {
  for_each = local.processors
  location = var.region
  service  = google_cloudfunctions2_function.fn[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.pusher.member
}

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

# The Pub/Sub service agent mints the push tokens, forwards undeliverable messages to
# the dead-letter topic, and acknowledges them on the source subscription.
resource "google_service_account_iam_member" "agent_mints_push_tokens" {
  service_account_id = google_service_account.pusher.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

resource "google_pubsub_topic_iam_member" "agent_dead_letters" {
  topic  = google_pubsub_topic.topic[local.dead_letter_topic].name
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_acks_dead_lettered" {
  for_each     = { for name, f in local.processors : name => f if f.topic != local.dead_letter_topic }
  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

resource "google_pubsub_subscription" "push" {
  for_each             = local.processors
  name                 = each.key
  topic                = google_pubsub_topic.topic[each.value.topic].id
  ack_deadline_seconds = var.pubsub.ack_deadline_s
  labels               = local.labels

  message_retention_duration = "${var.pubsub.retention_days * 86400}s"
  expiration_policy {
    ttl = "" # never expires
  }

  push_config {
    push_endpoint = google_cloudfunctions2_function.fn[each.key].service_config[0].uri
    oidc_token {
      service_account_email = google_service_account.pusher.email
      audience              = google_cloudfunctions2_function.fn[each.key].service_config[0].uri
    }
  }

  retry_policy {
    minimum_backoff = "${var.pubsub.min_backoff_s}s"
    maximum_backoff = "${var.pubsub.max_backoff_s}s"
  }

  # The dead-letter topic's own subscription has no dead-letter policy: a message it
  # cannot store is retried until it can, never dropped.
  dynamic "dead_letter_policy" {
    for_each = each.value.topic == local.dead_letter_topic ? [] : [1]
    content {
      dead_letter_topic     = google_pubsub_topic.topic[local.dead_letter_topic].id
      max_delivery_attempts = var.pubsub.max_delivery_attempts
    }
  }
}

# Timers: each scheduled processor's topic gets a message on its cron schedule. Cloud
# Scheduler publishes to Pub/Sub as its service agent, which may publish only there.
resource "google_pubsub_topic_iam_member" "scheduler_publishes" {
  for_each = local.scheduled
  topic    = google_pubsub_topic.topic[each.value.topic].name
  role     = "roles/pubsub.publisher"
  member   = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-cloudscheduler.iam.gserviceaccount.com"
}

resource "google_cloud_scheduler_job" "timer" {
  for_each    = local.scheduled
  name        = "${each.value.service}-timer"
  region      = var.region
  schedule    = each.value.schedule
  time_zone   = var.scheduler_time_zone
  description = "Triggers ${each.key} through ${each.value.topic}."

  pubsub_target {
    topic_name = google_pubsub_topic.topic[each.value.topic].id
    data       = base64encode(jsonencode({ source = "scheduler", job = each.key }))
  }

  depends_on = [google_project_service.apis]
}
