package logging_test

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/logging"
)

const (
	w3cTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	w3cSpan  = "00f067aa0ba902b7"
)

func headers(traceparent, cloudTrace string) http.Header {
	h := http.Header{}
	if traceparent != "" {
		h.Set("traceparent", traceparent)
	}
	if cloudTrace != "" {
		h.Set("X-Cloud-Trace-Context", cloudTrace)
	}
	return h
}

func TestTraceFromHeadersTraceparent(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   logging.Trace
		wantOK bool
	}{
		{"sampled", "00-" + w3cTrace + "-" + w3cSpan + "-01", logging.Trace{TraceID: w3cTrace, SpanID: w3cSpan, Sampled: true}, true},
		{"unsampled", "00-" + w3cTrace + "-" + w3cSpan + "-00", logging.Trace{TraceID: w3cTrace, SpanID: w3cSpan}, true},
		{"other flag bits ignored", "00-" + w3cTrace + "-" + w3cSpan + "-02", logging.Trace{TraceID: w3cTrace, SpanID: w3cSpan}, true},
		{"sampled with other bits", "00-" + w3cTrace + "-" + w3cSpan + "-03", logging.Trace{TraceID: w3cTrace, SpanID: w3cSpan, Sampled: true}, true},
		{"surrounding whitespace", "  00-" + w3cTrace + "-" + w3cSpan + "-01 ", logging.Trace{TraceID: w3cTrace, SpanID: w3cSpan, Sampled: true}, true},
		{"future version", "01-" + w3cTrace + "-" + w3cSpan + "-01", logging.Trace{TraceID: w3cTrace, SpanID: w3cSpan, Sampled: true}, true},
		{"future version with extra field", "01-" + w3cTrace + "-" + w3cSpan + "-01-what", logging.Trace{TraceID: w3cTrace, SpanID: w3cSpan, Sampled: true}, true},

		{"empty", "", logging.Trace{}, false},
		{"version ff", "ff-" + w3cTrace + "-" + w3cSpan + "-01", logging.Trace{}, false},
		{"version not hex", "0g-" + w3cTrace + "-" + w3cSpan + "-01", logging.Trace{}, false},
		{"version 00 too long", "00-" + w3cTrace + "-" + w3cSpan + "-01-extra", logging.Trace{}, false},
		{"future version without dash after flags", "01-" + w3cTrace + "-" + w3cSpan + "-01x", logging.Trace{}, false},
		{"all-zero trace id", "00-00000000000000000000000000000000-" + w3cSpan + "-01", logging.Trace{}, false},
		{"all-zero parent id", "00-" + w3cTrace + "-0000000000000000-01", logging.Trace{}, false},
		{"short trace id", "00-" + w3cTrace[:31] + "-" + w3cSpan + "-01", logging.Trace{}, false},
		{"long trace id", "00-" + w3cTrace + "0-" + w3cSpan + "-01", logging.Trace{}, false},
		{"short parent id", "00-" + w3cTrace + "-" + w3cSpan[:15] + "-01", logging.Trace{}, false},
		{"short flags", "00-" + w3cTrace + "-" + w3cSpan + "-1", logging.Trace{}, false},
		{"upper-case trace id", "00-4BF92F3577B34DA6A3CE929D0E0E4736-" + w3cSpan + "-01", logging.Trace{}, false},
		{"upper-case parent id", "00-" + w3cTrace + "-00F067AA0BA902B7-01", logging.Trace{}, false},
		{"upper-case flags", "00-" + w3cTrace + "-" + w3cSpan + "-0A", logging.Trace{}, false},
		{"upper-case version", "0A-" + w3cTrace + "-" + w3cSpan + "-01", logging.Trace{}, false},
		{"non-hex trace id", "00-4bf92f3577b34da6a3ce929d0e0e473z-" + w3cSpan + "-01", logging.Trace{}, false},
		{"wrong separator", "00_" + w3cTrace + "-" + w3cSpan + "-01", logging.Trace{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := logging.TraceFromHeaders(headers(tt.header, ""))
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestTraceFromHeadersCloudTraceContext(t *testing.T) {
	const id = "105445aa7843bc8bf206b12000100000"
	tests := []struct {
		name   string
		header string
		want   logging.Trace
		wantOK bool
	}{
		{"sampled", id + "/1;o=1", logging.Trace{TraceID: id, SpanID: "0000000000000001", Sampled: true}, true},
		{"unsampled", id + "/1;o=0", logging.Trace{TraceID: id, SpanID: "0000000000000001"}, true},
		{"decimal span to hex", id + "/12345678901234567890;o=1", logging.Trace{TraceID: id, SpanID: "ab54a98ceb1f0ad2", Sampled: true}, true},
		{"max uint64 span", id + "/18446744073709551615", logging.Trace{TraceID: id, SpanID: "ffffffffffffffff"}, true},
		{"no options", id + "/255", logging.Trace{TraceID: id, SpanID: "00000000000000ff"}, true},
		{"missing span", id, logging.Trace{TraceID: id}, true},
		{"missing span with options", id + ";o=1", logging.Trace{TraceID: id, Sampled: true}, true},
		{"zero span means none", id + "/0;o=1", logging.Trace{TraceID: id, Sampled: true}, true},
		{"upper-case trace id normalised", "105445AA7843BC8BF206B12000100000/1", logging.Trace{TraceID: id, SpanID: "0000000000000001"}, true},

		{"empty", "", logging.Trace{}, false},
		{"short trace id", id[:31] + "/1;o=1", logging.Trace{}, false},
		{"non-hex trace id", "105445aa7843bc8bf206b1200010000z/1", logging.Trace{}, false},
		{"all-zero trace id", "00000000000000000000000000000000/1", logging.Trace{}, false},
		{"empty span", id + "/;o=1", logging.Trace{}, false},
		{"hex span", id + "/abc", logging.Trace{}, false},
		{"signed span", id + "/+1", logging.Trace{}, false},
		{"span overflows uint64", id + "/18446744073709551616", logging.Trace{}, false},
		{"span too many digits", id + "/000000000000000000001", logging.Trace{}, false},
		{"bad options key", id + "/1;x=1", logging.Trace{}, false},
		{"empty options", id + "/1;o=", logging.Trace{}, false},
		{"non-numeric options", id + "/1;o=yes", logging.Trace{}, false},
		{"options overflow", id + "/1;o=99999999999999999999999", logging.Trace{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := logging.TraceFromHeaders(headers("", tt.header))
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestTraceFromHeadersPrecedence(t *testing.T) {
	const cloudID = "105445aa7843bc8bf206b12000100000"
	validTP := "00-" + w3cTrace + "-" + w3cSpan + "-00"
	validCloud := cloudID + "/1;o=1"
	tests := []struct {
		name        string
		traceparent string
		cloudTrace  string
		want        logging.Trace
		wantOK      bool
	}{
		{"both valid: traceparent wins", validTP, validCloud, logging.Trace{TraceID: w3cTrace, SpanID: w3cSpan}, true},
		{"invalid traceparent falls back", "00-garbage", validCloud, logging.Trace{TraceID: cloudID, SpanID: "0000000000000001", Sampled: true}, true},
		{"only traceparent", validTP, "", logging.Trace{TraceID: w3cTrace, SpanID: w3cSpan}, true},
		{"both invalid", "00-garbage", "nope", logging.Trace{}, false},
		{"neither present", "", "", logging.Trace{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := logging.TraceFromHeaders(headers(tt.traceparent, tt.cloudTrace))
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

var (
	traceIDRe = regexp.MustCompile(`^[0-9a-f]{32}$`)
	spanIDRe  = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

func FuzzTraceFromHeaders(f *testing.F) {
	f.Add("00-"+w3cTrace+"-"+w3cSpan+"-01", "")
	f.Add("01-"+w3cTrace+"-"+w3cSpan+"-01-x", "")
	f.Add("ff-"+w3cTrace+"-"+w3cSpan+"-01", "105445aa7843bc8bf206b12000100000/1;o=1")
	f.Add("", "105445AA7843BC8BF206B12000100000/18446744073709551615;o=0")
	f.Add("", "105445aa7843bc8bf206b12000100000;o=1")
	f.Add("", "105445aa7843bc8bf206b12000100000/0")
	f.Add("garbage", "garbage/;o=")
	f.Fuzz(func(t *testing.T, traceparent, cloudTrace string) {
		h := http.Header{
			"Traceparent":           {traceparent},
			"X-Cloud-Trace-Context": {cloudTrace},
		}
		tr, ok := logging.TraceFromHeaders(h)
		if !ok {
			require.Equal(t, logging.Trace{}, tr)
			return
		}
		require.Regexp(t, traceIDRe, tr.TraceID)
		require.NotEqual(t, "00000000000000000000000000000000", tr.TraceID)
		if tr.SpanID != "" {
			require.Regexp(t, spanIDRe, tr.SpanID)
			require.NotEqual(t, "0000000000000000", tr.SpanID)
		}
	})
}
