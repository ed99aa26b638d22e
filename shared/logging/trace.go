package logging

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Trace identifies the distributed trace a request belongs to. TraceID is 32
// lower-case hex digits; SpanID is 16 lower-case hex digits or empty.
type Trace struct {
	TraceID string
	SpanID  string
	Sampled bool
}

const (
	headerTraceparent  = "Traceparent"
	headerCloudTrace   = "X-Cloud-Trace-Context"
	traceparentLen     = 55 // "00-" + 32 + "-" + 16 + "-" + 2
	maxDecimalUint64   = 20
	cloudTraceOptsName = "o="
)

// TraceFromHeaders extracts the trace from W3C traceparent, falling back to
// Google's legacy X-Cloud-Trace-Context. traceparent wins because it is the
// standard that Cloud Run and OpenTelemetry propagate; the legacy header is
// still sent by older Google front ends and clients.
func TraceFromHeaders(h http.Header) (Trace, bool) {
	if t, ok := parseTraceparent(h.Get(headerTraceparent)); ok {
		return t, true
	}
	return parseCloudTraceContext(h.Get(headerCloudTrace))
}

// parseTraceparent follows https://www.w3.org/TR/trace-context/#traceparent-header.
func parseTraceparent(s string) (Trace, bool) {
	s = strings.TrimSpace(s)
	if len(s) < traceparentLen {
		return Trace{}, false
	}
	version := s[0:2]
	if !isLowerHex(version) || version == "ff" {
		return Trace{}, false
	}
	// Version 00 is exact; later versions may append fields, which the spec
	// says to ignore after a '-' so that old parsers keep working.
	if version == "00" && len(s) != traceparentLen {
		return Trace{}, false
	}
	if len(s) > traceparentLen && s[traceparentLen] != '-' {
		return Trace{}, false
	}
	if s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return Trace{}, false
	}
	traceID, spanID, flags := s[3:35], s[36:52], s[53:55]
	if !isLowerHex(traceID) || isAllZero(traceID) ||
		!isLowerHex(spanID) || isAllZero(spanID) ||
		!isLowerHex(flags) {
		return Trace{}, false
	}
	f, _ := strconv.ParseUint(flags, 16, 8) // cannot fail: two lower-hex digits
	return Trace{TraceID: traceID, SpanID: spanID, Sampled: f&1 == 1}, true
}

// parseCloudTraceContext parses "TRACE_ID[/SPAN_ID][;o=OPTIONS]" as described
// at https://cloud.google.com/trace/docs/trace-context#legacy-http-header.
// The span id is decimal on the wire but Cloud Logging's spanId field wants
// the 16-digit hex form used by W3C, so it is converted here.
func parseCloudTraceContext(s string) (Trace, bool) {
	s = strings.TrimSpace(s)
	rest, opts, hasOpts := strings.Cut(s, ";")
	traceID, span, hasSpan := strings.Cut(rest, "/")
	// Hex case is not specified for this header, so accept either and
	// normalise; Cloud Logging matches trace ids case-sensitively.
	if len(traceID) != 32 || !isHex(traceID) {
		return Trace{}, false
	}
	traceID = strings.ToLower(traceID)
	if isAllZero(traceID) {
		return Trace{}, false
	}
	t := Trace{TraceID: traceID}
	if hasSpan {
		if span == "" || len(span) > maxDecimalUint64 || !isDigits(span) {
			return Trace{}, false
		}
		n, err := strconv.ParseUint(span, 10, 64)
		if err != nil {
			return Trace{}, false
		}
		// Zero is "no span" in every trace format; emitting it would link
		// the entry to a span that cannot exist.
		if n != 0 {
			t.SpanID = fmt.Sprintf("%016x", n)
		}
	}
	if hasOpts {
		v, ok := strings.CutPrefix(opts, cloudTraceOptsName)
		if !ok || v == "" || !isDigits(v) {
			return Trace{}, false
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return Trace{}, false
		}
		t.Sampled = n&1 == 1
	}
	return t, true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isAllZero(s string) bool {
	return strings.Trim(s, "0") == ""
}
