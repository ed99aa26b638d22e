package webhooks

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

func TestCreateInputApply(t *testing.T) {
	desc := "ERP sync"
	e, err := CreateInput{URL: "https://erp.example.com/hooks?x=1", EnabledEvents: []string{"invoice.paid", "payment.created"}, Description: &desc}.Apply(false)
	require.NoError(t, err)
	require.Equal(t, "https://erp.example.com/hooks?x=1", e.URL)
	require.Equal(t, []string{"invoice.paid", "payment.created"}, e.EnabledEvents)
	require.Equal(t, "ERP sync", *e.Description)

	_, err = CreateInput{URL: "http://example.com", EnabledEvents: []string{"*"}}.Apply(false)
	require.NoError(t, err, "plain http is allowed")
}

func TestCreateInputApplyRefusesInvalidFields(t *testing.T) {
	long := strings.Repeat("x", MaxDescriptionLength+1)
	cases := map[string]struct {
		in     CreateInput
		fields map[string]string
	}{
		"relative url": {CreateInput{URL: "/hooks", EnabledEvents: []string{"*"}},
			map[string]string{"url": "must be an absolute http or https URL"}},
		"other scheme": {CreateInput{URL: "ftp://example.com/x", EnabledEvents: []string{"*"}},
			map[string]string{"url": "must be an absolute http or https URL"}},
		"opaque": {CreateInput{URL: "https:example.com", EnabledEvents: []string{"*"}},
			map[string]string{"url": "must be an absolute http or https URL"}},
		"userinfo": {CreateInput{URL: "https://user:pw@example.com/", EnabledEvents: []string{"*"}},
			map[string]string{"url": "must not contain user information"}},
		"no host": {CreateInput{URL: "https:///path", EnabledEvents: []string{"*"}},
			map[string]string{"url": "must name a host"}},
		"too long": {CreateInput{URL: "https://example.com/" + strings.Repeat("a", MaxURLLength), EnabledEvents: []string{"*"}},
			map[string]string{"url": "must be at most 2048 characters"}},
		"no events": {CreateInput{URL: "https://example.com"},
			map[string]string{"enabled_events": `must name at least one event type, or "*" for all`}},
		"unknown event": {CreateInput{URL: "https://example.com", EnabledEvents: []string{"invoice.paid", "invoice.exploded"}},
			map[string]string{"enabled_events[1]": "is not a known event type"}},
		"star with others": {CreateInput{URL: "https://example.com", EnabledEvents: []string{"invoice.paid", "*"}},
			map[string]string{"enabled_events[1]": `"*" already includes every event type; list it alone`}},
		"duplicate": {CreateInput{URL: "https://example.com", EnabledEvents: []string{"invoice.paid", "invoice.paid"}},
			map[string]string{"enabled_events[1]": "is listed twice"}},
		"long description": {CreateInput{URL: "https://example.com", EnabledEvents: []string{"*"}, Description: &long},
			map[string]string{"description": "must be at most 500 characters"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := tc.in.Apply(true)
			e := apperr.From(err)
			require.Equal(t, "validation_failed", e.Code)
			require.Equal(t, tc.fields, e.Fields)
		})
	}
}

func TestCreateInputApplyRefusesInternalTargets(t *testing.T) {
	for _, u := range []string{
		"http://localhost:8080/hook",
		"https://LOCALHOST./hook",
		"https://api.localhost/hook",
		"http://127.0.0.1/hook",
		"http://127.8.9.10/hook",
		"http://[::1]/hook",
		"http://0.0.0.0/hook",
		"http://[::]/hook",
		"http://10.1.2.3/hook",
		"http://172.16.0.1/hook",
		"http://192.168.1.1/hook",
		"http://100.64.0.1/hook",
		"http://169.254.169.254/computeMetadata/v1/",
		"http://[fe80::1]/hook",
		"http://[fd00::1]/hook",
		"http://[::ffff:127.0.0.1]/hook",
		"http://[::ffff:10.0.0.1]/hook",
	} {
		t.Run(u, func(t *testing.T) {
			_, err := CreateInput{URL: u, EnabledEvents: []string{"*"}}.Apply(false)
			e := apperr.From(err)
			require.Equal(t, apperr.Unprocessable, e.Kind)
			require.Equal(t, "webhook_url_not_allowed", e.Code)
			require.Contains(t, e.Fields, "url")

			_, err = CreateInput{URL: u, EnabledEvents: []string{"*"}}.Apply(true)
			require.NoError(t, err, "development and tests may target this machine")
		})
	}
	for _, u := range []string{"https://example.com/hook", "http://8.8.8.8/hook", "https://[2001:4860:4860::8888]/hook", "https://localhost.example.com/"} {
		_, err := CreateInput{URL: u, EnabledEvents: []string{"*"}}.Apply(false)
		require.NoError(t, err, u)
	}

	// A field error is reported before the target is judged.
	_, err := CreateInput{URL: "http://127.0.0.1/hook"}.Apply(false)
	require.Equal(t, "validation_failed", apperr.From(err).Code)
}
