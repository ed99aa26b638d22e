package logging

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFormatLatency(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Second, "0s"},
		{time.Nanosecond, "0.000000001s"},
		{12345 * time.Microsecond, "0.012345s"},
		{time.Second, "1s"},
		{1500 * time.Millisecond, "1.5s"},
		{90*time.Second + 7*time.Nanosecond, "90.000000007s"},
	}
	for _, tt := range tests {
		t.Run(tt.in.String(), func(t *testing.T) {
			require.Equal(t, tt.want, formatLatency(tt.in))
		})
	}
}

func TestRemoteIP(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.1:1234", "192.0.2.1"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"192.0.2.1", "192.0.2.1"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			require.Equal(t, tt.want, remoteIP(tt.in))
		})
	}
}
