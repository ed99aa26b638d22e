package money

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExponent(t *testing.T) {
	tests := []struct {
		code string
		want int
	}{
		{"JPY", 0}, {"KRW", 0}, {"CLP", 0}, {"ISK", 0}, {"VND", 0}, {"VUV", 0},
		{"XAF", 0}, {"XOF", 0}, {"XPF", 0}, {"UGX", 0}, {"PYG", 0}, {"RWF", 0},
		{"KMF", 0}, {"GNF", 0}, {"DJF", 0}, {"BIF", 0}, {"UYI", 0},
		{"USD", 2}, {"EUR", 2}, {"GBP", 2}, {"XCG", 2}, {"ZWG", 2}, {"SLE", 2},
		{"KWD", 3}, {"BHD", 3}, {"JOD", 3}, {"OMR", 3}, {"TND", 3}, {"LYD", 3}, {"IQD", 3},
		{"CLF", 4}, {"UYW", 4},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			got, ok := Exponent(tt.code)
			require.True(t, ok)
			require.Equal(t, tt.want, got)
			require.True(t, ValidCurrency(tt.code))
		})
	}
}

func TestValidCurrencyRejects(t *testing.T) {
	tests := []struct {
		name, code string
	}{
		{"lower case", "usd"},
		{"mixed case", "Usd"},
		{"empty", ""},
		{"too short", "US"},
		{"too long", "USDD"},
		{"digits", "840"},
		{"padded", " USD"},
		{"gold has no minor unit", "XAU"},
		{"silver", "XAG"},
		{"platinum", "XPT"},
		{"palladium", "XPD"},
		{"SDR", "XDR"},
		{"sucre", "XSU"},
		{"ADB unit", "XUA"},
		{"bond unit", "XBA"},
		{"testing code", "XTS"},
		{"no currency", "XXX"},
		{"withdrawn ANG", "ANG"},
		{"withdrawn BGN", "BGN"},
		{"withdrawn HRK", "HRK"},
		{"withdrawn SLL", "SLL"},
		{"withdrawn ZWL", "ZWL"},
		{"withdrawn CUC", "CUC"},
		{"not a code", "ABC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.False(t, ValidCurrency(tt.code))
			_, ok := Exponent(tt.code)
			require.False(t, ok)
			_, err := FormatMinor(1, tt.code)
			require.ErrorIs(t, err, ErrUnknownCurrency)
			_, err = ParseMajor("1", tt.code)
			require.ErrorIs(t, err, ErrUnknownCurrency)
		})
	}
}

func TestCurrencies(t *testing.T) {
	codes := Currencies()
	// 178 List One entries minus the 13 with no minor unit.
	require.Len(t, codes, 165)
	require.True(t, slices.IsSorted(codes))
	require.Equal(t, len(codes), len(slices.Compact(slices.Clone(codes))))
	for _, c := range codes {
		require.True(t, ValidCurrency(c), c)
		exp, ok := Exponent(c)
		require.True(t, ok)
		require.Contains(t, []int{0, 2, 3, 4}, exp, c)
	}

	codes[0] = "ZZZ"
	require.NotEqual(t, "ZZZ", Currencies()[0], "Currencies must return a copy")
}
