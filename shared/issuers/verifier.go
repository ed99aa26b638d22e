package issuers

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/cache"
	"github.com/ledgerline/ledgerline/shared/db"
)

// leeway absorbs small clock skew between an issuer and Ledgerline for exp, nbf and
// iat; the same allowance Ledgerline's own tokens get.
const leeway = 30 * time.Second

// Defaults of Options.
const (
	// DefaultConfigTTL is how long an instance keeps what it looked up about an
	// issuer's configurations. It is also how long a deleted trusted issuer's tokens
	// may still be accepted by an instance that verified one just before.
	DefaultConfigTTL = 30 * time.Second
	// DefaultRefreshInterval is how often a key set is fetched again in the
	// background, and how long a discovered key set URL is kept.
	DefaultRefreshInterval = time.Hour
	// DefaultUnknownKIDRefreshEvery is the least time between two fetches of one key
	// set caused by tokens with a kid the instance does not know.
	DefaultUnknownKIDRefreshEvery = time.Minute
)

// lookupTimeout bounds a configuration lookup, which runs detached from the request
// that started it because concurrent requests for the same issuer share it.
const lookupTimeout = 5 * time.Second

// maxCachedLookups bounds the binding lookup cache: a flood of tokens naming made-up
// binding values of a trusted issuer costs one indexed query each and no unbounded
// memory. Made-up issuers cost no query at all (see Verifier.trusted).
const maxCachedLookups = 10000

// trustedFailTTL is how long a failed read of the trusted issuers is remembered: while
// the database is down, a flood of tokens costs one attempt a second, not one each.
const trustedFailTTL = time.Second

// Options tune a Verifier; the zero value is production's.
type Options struct {
	// AllowLoopback trusts http and loopback issuers and key sets: development and
	// tests only, like the service's flag of the same name.
	AllowLoopback bool
	// Client fetches discovery documents and key sets; nil: NewClient(AllowLoopback).
	Client *http.Client
	// Cache, when set, shares the fetched documents between instances (Redis) for
	// cache.DocumentTTL, so a fleet asks an issuer about once a minute.
	Cache cache.Cache
	// ConfigTTL, RefreshInterval and UnknownKIDRefreshEvery: zero for the defaults.
	ConfigTTL              time.Duration
	RefreshInterval        time.Duration
	UnknownKIDRefreshEvery time.Duration
	// Now is the clock of token times and cache ages; nil: time.Now.
	Now func() time.Time
	// Logger is nil for slog.Default() at the time of logging: an instance installs
	// its logger as the default after building its dependencies.
	Logger *slog.Logger
}

// Verifier checks tokens of the issuers tenants trust; it is the authenticator's
// auth.ExternalVerifier. One per instance: it caches configurations and key sets.
type Verifier struct {
	db            *db.DB
	allowLoopback bool
	now           func() time.Time
	logger        logger
	keys          *keys
	// trusted maps every issuer some tenant trusts to the claim names that bind its
	// tokens, read whole once per configuration TTL: a token of any other issuer is
	// refused without a query, so unauthenticated callers cannot make each request cost
	// the database one.
	trusted *lazyCache[map[string][]string]
	// bindings maps (issuer, claim, value) to the configuration it binds; nil when
	// none does, so unknown bindings are not looked up on every request either.
	bindings *lazyCache[*config]
	// queries counts the database lookups made, for tests (export_test.go).
	queries atomic.Int64
}

var _ auth.ExternalVerifier = (*Verifier)(nil)

// NewVerifier returns the verifier of tenant-trusted issuers over d. It does no I/O:
// configurations and keys are fetched on first use.
func NewVerifier(d *db.DB, o Options) *Verifier {
	if o.ConfigTTL <= 0 {
		o.ConfigTTL = DefaultConfigTTL
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = DefaultRefreshInterval
	}
	if o.UnknownKIDRefreshEvery <= 0 {
		o.UnknownKIDRefreshEvery = DefaultUnknownKIDRefreshEvery
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Client == nil {
		o.Client = NewClient(o.AllowLoopback)
	}
	if o.Cache != nil {
		shared := *o.Client
		shared.Transport = cache.Documents{Cache: o.Cache, Next: o.Client.Transport}
		o.Client = &shared
	}
	return &Verifier{
		db: d, allowLoopback: o.AllowLoopback, now: o.Now, logger: logger{o.Logger},
		keys:     newKeys(o.Client, o.AllowLoopback, o.RefreshInterval, o.UnknownKIDRefreshEvery, o.Now, logger{o.Logger}),
		trusted:  newLazyCache[map[string][]string](o.ConfigTTL, trustedFailTTL, 1, o.Now, nil),
		bindings: newLazyCache[*config](o.ConfigTTL, 0, maxCachedLookups, o.Now, nil),
	}
}

// Close stops the background refreshes of the key sets; for the end of a test.
func (v *Verifier) Close() { v.keys.close() }

// config is what verification needs of one trusted issuer configuration.
type config struct {
	TenantID     uuid.UUID
	Issuer       string
	Audience     string
	Algorithms   []string
	JWKSURL      *string
	RolesClaim   string
	RoleMapping  map[string]string
	BindingClaim string
	BindingValue string
}

// VerifyExternal checks raw, whose unverified iss is iss, against the configuration
// of the tenant it binds to, and returns its principal: the bound tenant, sub as the
// subject, the roles of its roles claim through the mapping. Any failure is the same
// 401, its reason logged at debug; only a failed database lookup is a 503.
func (v *Verifier) VerifyExternal(ctx context.Context, iss, raw string) (auth.Principal, error) {
	if checkIssuer(iss, v.allowLoopback) != "" {
		return v.refuse(ctx, iss, "issuer is not an https URL", nil)
	}
	// The claims are read unverified only to find the configuration to verify with;
	// everything is checked again once the signature is.
	unverified := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(raw, unverified); err != nil {
		return v.refuse(ctx, iss, "malformed token", err)
	}
	cfg, err := v.bind(ctx, iss, unverified)
	if err != nil {
		return auth.Principal{}, err
	}
	jwksURL := ""
	if cfg.JWKSURL != nil {
		jwksURL = *cfg.JWKSURL
	}
	kf, err := v.keys.keyfunc(ctx, iss, jwksURL)
	if err != nil {
		return v.refuse(ctx, iss, "issuer keys unavailable", err)
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods(cfg.Algorithms),
		jwt.WithIssuer(iss),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(v.now),
	)
	claims := jwt.MapClaims{}
	if _, err := parser.ParseWithClaims(raw, claims, kf.KeyfuncCtx(ctx)); err != nil {
		return v.refuse(ctx, iss, "token did not verify", err)
	}
	if value, ok := claims[cfg.BindingClaim].(string); !ok || value != cfg.BindingValue {
		return v.refuse(ctx, iss, "binding claim changed", nil)
	}
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return v.refuse(ctx, iss, "token has no subject", nil)
	}
	jti, _ := claims["jti"].(string)
	// PlatformAdmin stays false whatever the token says: Ledgerline's operators are
	// Ledgerline's own tokens only.
	return auth.Principal{
		TenantID: cfg.TenantID, Subject: sub, Roles: cfg.roles(claims[cfg.RolesClaim]),
		ActorType: auth.ActorUser, TokenID: jti, Issuer: iss, External: true,
	}, nil
}

// logger is a configured logger, or the default one at the time of use.
type logger struct{ l *slog.Logger }

func (l logger) get() *slog.Logger {
	if l.l != nil {
		return l.l
	}
	return slog.Default()
}

// bind finds the one configuration the token binds to: for each claim name that binds
// tokens of iss, the configuration whose value is the token's (a string claim). None
// is a refusal, and so is more than one (two tenants binding by different claims that
// one token carries both of, which only trusts older than migration 00018 can do): a
// token never chooses between tenants. An issuer no tenant trusts is refused from the
// cached list of trusted issuers, without a query.
func (v *Verifier) bind(ctx context.Context, iss string, claims jwt.MapClaims) (config, error) {
	trusted, err := v.trusted.get(ctx, "", func() (map[string][]string, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookupTimeout)
		defer cancel()
		v.queries.Add(1)
		return trustedIssuers(ctx, v.db)
	})
	if err != nil {
		return config{}, err
	}
	names, ok := trusted[iss]
	if !ok {
		_, err := v.refuse(ctx, iss, "no tenant trusts the issuer", nil)
		return config{}, err
	}
	var matched []*config
	for _, name := range names {
		value, ok := claims[name].(string)
		if !ok || value == "" || utf8.RuneCountInString(value) > MaxBindingValueLength {
			continue
		}
		// Issuers and claim names never hold NUL (URLs refuse control characters,
		// PostgreSQL text cannot store it), so the key is unambiguous.
		key := iss + "\x00" + name + "\x00" + value
		cfg, err := v.bindings.get(ctx, key, func() (*config, error) {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookupTimeout)
			defer cancel()
			v.queries.Add(1)
			cfg, found, err := binding(ctx, v.db, iss, name, value)
			if err != nil || !found {
				return nil, err
			}
			return &cfg, nil
		})
		if err != nil {
			return config{}, err
		}
		if cfg != nil {
			matched = append(matched, cfg)
		}
	}
	switch len(matched) {
	case 0:
		_, err := v.refuse(ctx, iss, "no tenant binds the token", nil)
		return config{}, err
	case 1:
		return *matched[0], nil
	default:
		_, err := v.refuse(ctx, iss, "the token binds to more than one tenant", nil)
		return config{}, err
	}
}

// roles reads the roles claim, a string array or a space-separated string. Only the
// names the mapping maps count (an issuer's group called "admin" grants nothing the
// tenant did not map); names are never taken as Ledgerline's roles, so a configuration
// without a mapping (only ones older than migration 00018 can be) grants no role.
// Unknown names are ignored: an issuer's roles claim may serve other products too.
func (c config) roles(claim any) []auth.Role {
	var names []string
	switch t := claim.(type) {
	case string:
		names = strings.Fields(t)
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok {
				names = append(names, s)
			}
		}
	}
	var out []auth.Role
	for _, n := range names {
		mapped, ok := c.RoleMapping[n]
		if !ok {
			continue
		}
		if r, err := auth.ParseRole(mapped); err == nil && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// refuse logs why a token was refused, at debug, and returns the one 401 every
// refusal answers: the caller learns nothing about which check failed.
func (v *Verifier) refuse(ctx context.Context, iss, reason string, cause error) (auth.Principal, error) {
	attrs := []any{"issuer", iss, "reason", reason}
	if cause != nil {
		attrs = append(attrs, "error", cause.Error())
	}
	v.logger.get().DebugContext(ctx, "external token refused", attrs...)
	return auth.Principal{}, apperr.Wrap(cause, apperr.Unauthenticated, "unauthenticated", "invalid token")
}
