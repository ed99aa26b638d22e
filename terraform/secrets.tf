# Secrets are created here empty; their values are added out of band
#   gcloud secrets versions add <name> --data-file=-
# and the version each function reads is pinned in var.secret_versions, so a rotation is
# a reviewed Terraform change.

resource "google_secret_manager_secret" "secret" {
  for_each  = local.secret_ids
  secret_id = each.value
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

# A function reads only the secrets its manifest entry names.
resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each  = local.secret_grants
  secret_id = google_secret_manager_secret.secret[each.value.env].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.fn[each.value.function].member
}
