// Package config is the one description of what a Ledgerline function reads from its
// environment. The struct is the contract with Terraform: every variable Terraform sets
// is a field here and every required field is set by Terraform. Nothing else in the
// code reads environment variables.
package config

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/sethvargo/go-envconfig"
)

// Config is read once per instance, on first use.
type Config struct {
	// ProjectID is the Google Cloud project: trace correlation in logs and the Pub/Sub client.
	ProjectID string `env:"GOOGLE_CLOUD_PROJECT"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"LOG_LEVEL, default=info"`

	// DatabaseURL is a libpq/pgx connection string; used when InstanceConnectionName is empty
	// (local development and tests).
	DatabaseURL string `env:"DATABASE_URL"`
	// InstanceConnectionName (project:region:instance) selects the Cloud SQL Go connector
	// with IAM database authentication.
	InstanceConnectionName string `env:"INSTANCE_CONNECTION_NAME"`
	// DBUser is the IAM database user (the service account e-mail without
	// ".gserviceaccount.com"), with the connector.
	DBUser string `env:"DB_USER"`
	// DBName is the database name, with the connector.
	DBName string `env:"DB_NAME, default=ledgerline"`
	// DBPrivateIP makes the connector dial the instance's private IP.
	DBPrivateIP bool `env:"DB_PRIVATE_IP, default=false"`
	// DBMaxConns is this instance's pool size. Cloud SQL connections are budgeted as
	// max instances × DBMaxConns in Terraform, so keep it small.
	DBMaxConns int32 `env:"DB_MAX_CONNS, default=4"`

	// EventsTopic is the Pub/Sub topic domain events are published to.
	EventsTopic string `env:"EVENTS_TOPIC, default=ledgerline-events"`

	// AuthIssuer and AuthAudience must match a token's iss and aud.
	AuthIssuer   string `env:"AUTH_ISSUER"`
	AuthAudience string `env:"AUTH_AUDIENCE, default=ledgerline"`
	// AuthJWKSURL is where the issuer publishes its signing keys (production).
	AuthJWKSURL string `env:"AUTH_JWKS_URL"`
	// AuthDevKeyFile is the PEM file of the local development issuer's key; never set in
	// production.
	AuthDevKeyFile string `env:"AUTH_DEV_KEY_FILE"`

	// TraceExporter is where spans go: none, stdout, otlp or cloudtrace.
	TraceExporter string `env:"TRACE_EXPORTER, default=none"`
	// TraceSampleRatio samples new traces; a caller's sampling decision is followed.
	TraceSampleRatio float64 `env:"TRACE_SAMPLE_RATIO, default=0.1"`

	// MaxBodyBytes caps every request body (413 beyond it).
	MaxBodyBytes int64 `env:"MAX_BODY_BYTES, default=1048576"`

	// WebhookSecretKey (32 bytes, standard base64) seals webhook endpoints' signing
	// secrets at rest with AES-256-GCM. Optional here because only the webhook functions
	// use it: they fail with an error naming it when it is missing.
	WebhookSecretKey string `env:"WEBHOOK_SECRET_KEY"`
	// WebhookAllowPrivateTargets lets webhook URLs reach loopback and private addresses:
	// local development and tests only. In production it stays false, so a tenant cannot
	// point deliveries at internal services.
	WebhookAllowPrivateTargets bool `env:"WEBHOOK_ALLOW_PRIVATE_TARGETS, default=false"`
}

// Load reads the configuration from the process environment.
func Load(ctx context.Context) (Config, error) {
	return LoadFrom(ctx, envconfig.OsLookuper())
}

// LoadFrom reads the configuration from l; tests pass a map lookuper.
func LoadFrom(ctx context.Context, l envconfig.Lookuper) (Config, error) {
	var c Config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &c, Lookuper: l}); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate reports every inconsistency at once, so a misconfigured deploy fails with the
// whole list rather than one variable at a time.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.DatabaseURL == "" && c.InstanceConnectionName == "":
		errs = append(errs, errors.New("one of DATABASE_URL or INSTANCE_CONNECTION_NAME is required"))
	case c.DatabaseURL != "" && c.InstanceConnectionName != "":
		errs = append(errs, errors.New("DATABASE_URL and INSTANCE_CONNECTION_NAME are exclusive"))
	case c.InstanceConnectionName != "" && c.DBUser == "":
		errs = append(errs, errors.New("DB_USER is required with INSTANCE_CONNECTION_NAME"))
	}
	if c.DBMaxConns < 1 || c.DBMaxConns > 100 {
		errs = append(errs, fmt.Errorf("DB_MAX_CONNS must be 1..100, got %d", c.DBMaxConns))
	}
	if c.AuthIssuer == "" {
		errs = append(errs, errors.New("AUTH_ISSUER is required"))
	}
	if c.AuthAudience == "" {
		errs = append(errs, errors.New("AUTH_AUDIENCE is required"))
	}
	switch {
	case c.AuthJWKSURL == "" && c.AuthDevKeyFile == "":
		errs = append(errs, errors.New("one of AUTH_JWKS_URL or AUTH_DEV_KEY_FILE is required"))
	case c.AuthJWKSURL != "" && c.AuthDevKeyFile != "":
		errs = append(errs, errors.New("AUTH_JWKS_URL and AUTH_DEV_KEY_FILE are exclusive"))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("MAX_BODY_BYTES must be at least 1024, got %d", c.MaxBodyBytes))
	}
	if c.WebhookSecretKey != "" {
		if k, err := base64.StdEncoding.DecodeString(c.WebhookSecretKey); err != nil || len(k) != 32 {
			errs = append(errs, errors.New("WEBHOOK_SECRET_KEY must be 32 bytes in standard base64"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
