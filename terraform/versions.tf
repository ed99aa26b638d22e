terraform {
  required_version = ">= 1.8"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 8.0"
    }
  }

  # State lives in a GCS bucket named at init time:
  #   terraform init -backend-config="bucket=<state bucket>" -backend-config="prefix=ledgerline"
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region
}
