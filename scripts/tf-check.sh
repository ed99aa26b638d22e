#!/usr/bin/env bash
# Checks the Terraform offline: formatting, then `terraform init` + `terraform validate`
# against the google provider built from its Go module (the registry is out of reach),
# served to Terraform from a filesystem mirror. The build takes minutes, so it is done
# once into a cache directory and reused.
set -euo pipefail
cd "$(dirname "$0")/.."

# Provider 8.0.0, as a Go module pseudo-version (the module's tags predate its v2 path).
PROVIDER_MODULE=github.com/hashicorp/terraform-provider-google
PROVIDER_PSEUDO=v1.20.1-0.20260828184646-f3721fb45fa3
PROVIDER_VERSION=8.0.0
TERRAFORM=${TERRAFORM:-/usr/local/bin/terraform}
CACHE=${LEDGERLINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ledgerline}/terraform
PLATFORM=$(go env GOOS)_$(go env GOARCH)
MIRROR=$CACHE/mirror
BINARY=$MIRROR/registry.terraform.io/hashicorp/google/$PROVIDER_VERSION/$PLATFORM/terraform-provider-google_v$PROVIDER_VERSION

if ! command -v "$TERRAFORM" >/dev/null; then
  echo "tf-check: terraform not found at $TERRAFORM (set TERRAFORM=...)" >&2
  exit 1
fi

if [ ! -x "$BINARY" ]; then
  echo "== building the google provider $PROVIDER_VERSION from the module proxy (once; several minutes)"
  mkdir -p "$(dirname "$BINARY")" "$CACHE/bin"
  # Outside this module, so its go.mod and go.sum are untouched.
  (cd "$CACHE" && GOFLAGS=-mod=mod GOBIN="$CACHE/bin" go install "$PROVIDER_MODULE@$PROVIDER_PSEUDO")
  mv "$CACHE/bin/terraform-provider-google" "$BINARY"
fi

# A scratch copy keeps .terraform and the lock file (which would pin this local
# build's hash, not the registry's) out of the repository. The manifest and the
# OpenAPI document are read from ../shared, so that layout is kept.
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/shared/manifest" "$WORK/shared/openapi"
cp -r terraform "$WORK/terraform"
cp shared/manifest/functions.json "$WORK/shared/manifest/"
cp shared/openapi/openapi.yaml "$WORK/shared/openapi/"
cat >"$WORK/terraformrc" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$MIRROR"
    include = ["registry.terraform.io/hashicorp/google"]
  }
}
EOF

export TF_CLI_CONFIG_FILE="$WORK/terraformrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
echo "== terraform fmt -check"
"$TERRAFORM" fmt -check -recursive -diff terraform/
echo "== terraform init -backend=false"
"$TERRAFORM" -chdir="$WORK/terraform" init -backend=false -input=false -no-color >/dev/null
echo "== terraform validate"
"$TERRAFORM" -chdir="$WORK/terraform" validate -no-color
