package money

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFormatMinor(t *testing.T) {
	tests := []struct {
		amount int64
		code   string
		want   string
	}{
		{12345, "USD", "123.45"},
		{-5, "USD", "-0.05"},
		{5, "USD", "0.05"},
		{0, "USD", "0.00"},
		{100, "USD", "1.00"},
		{-12300, "EUR", "-123.00"},
		{500, "JPY", "500"},
		{-500, "JPY", "-500"},
		{0, "JPY", "0"},
		{1234, "KWD", "1.234"},
		{-1, "KWD", "-0.001"},
		{1, "CLF", "0.0001"},
		{123456, "UYW", "12.3456"},
		{math.MaxInt64, "USD", "92233720368547758.07"},
		{math.MinInt64, "USD", "-92233720368547758.08"},
		{math.MinInt64, "JPY", "-9223372036854775808"},
		{math.MinInt64, "CLF", "-922337203685477.5808"},
	}
	for _, tt := range tests {
		t.Run(tt.want+" "+tt.code, func(t *testing.T) {
			got, err := FormatMinor(tt.amount, tt.code)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)

			back, err := ParseMajor(got, tt.code)
			require.NoError(t, err)
			require.Equal(t, tt.amount, back)
		})
	}
}

func TestParseMajor(t *testing.T) {
	tests := []struct {
		in   string
		code string
		want int64
	}{
		{"123.45", "USD", 12345},
		{"123.4", "USD", 12340},
		{"123", "USD", 12300},
		{"-0.05", "USD", -5},
		{"-0", "USD", 0},
		{"0.00", "USD", 0},
		{"500", "JPY", 500},
		{"1.234", "KWD", 1234},
		{"1.2", "KWD", 1200},
		{"0.0001", "CLF", 1},
		{"92233720368547758.07", "USD", math.MaxInt64},
		{"-92233720368547758.08", "USD", math.MinInt64},
		{"9223372036854775807", "JPY", math.MaxInt64},
		{"-9223372036854775808", "JPY", math.MinInt64},
	}
	for _, tt := range tests {
		t.Run(tt.in+" "+tt.code, func(t *testing.T) {
			got, err := ParseMajor(tt.in, tt.code)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseMajorRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
		code string
		want error
	}{
		{"too many digits for USD", "1.234", "USD", ErrTooPrecise},
		{"trailing zero beyond exponent", "1.230", "USD", ErrTooPrecise},
		{"any fraction for JPY", "500.0", "JPY", ErrTooPrecise},
		{"five digits for CLF", "0.00001", "CLF", ErrTooPrecise},
		{"just above max", "92233720368547758.08", "USD", ErrOverflow},
		{"just below min", "-92233720368547758.09", "USD", ErrOverflow},
		{"max plus one JPY", "9223372036854775808", "JPY", ErrOverflow},
		{"min minus one JPY", "-9223372036854775809", "JPY", ErrOverflow},
		{"overflow from padding", "92233720368547758", "KWD", ErrOverflow},
		{"huge", "100000000000000000000000000000", "USD", ErrOverflow},
		{"empty", "", "USD", ErrInvalidDecimal},
		{"plus", "+1", "USD", ErrInvalidDecimal},
		{"exponent", "1e2", "USD", ErrInvalidDecimal},
		{"currency symbol", "$1", "USD", ErrInvalidDecimal},
		{"thousands separator", "1,000.00", "USD", ErrInvalidDecimal},
		{"trailing dot", "1.", "USD", ErrInvalidDecimal},
		{"leading dot", ".5", "USD", ErrInvalidDecimal},
		{"leading zero", "01.00", "USD", ErrInvalidDecimal},
		{"lower-case code", "1.00", "usd", ErrUnknownCurrency},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMajor(tt.in, tt.code)
			require.ErrorIs(t, err, tt.want)
		})
	}
}
