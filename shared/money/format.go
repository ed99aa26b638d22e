package money

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// FormatMinor renders an amount in minor units as a major-unit decimal string
// with exactly the currency's exponent of fractional digits:
// (12345, "USD") → "123.45", (-5, "USD") → "-0.05", (500, "JPY") → "500",
// (1234, "KWD") → "1.234". The fixed digit count keeps the output stable for
// exports and reconciliation files, and ParseMajor accepts it back.
//
// It fails with ErrUnknownCurrency for a code ValidCurrency rejects.
func FormatMinor(amountMinor int64, code string) (string, error) {
	exp, err := exponentOf(code)
	if err != nil {
		return "", err
	}
	// Formatting the magnitude as uint64 handles math.MinInt64, whose
	// negation does not fit in int64.
	mag := uint64(amountMinor)
	sign := ""
	if amountMinor < 0 {
		mag = -mag
		sign = "-"
	}
	digits := strconv.FormatUint(mag, 10)
	if exp == 0 {
		return sign + digits, nil
	}
	if len(digits) <= exp {
		digits = strings.Repeat("0", exp-len(digits)+1) + digits
	}
	cut := len(digits) - exp
	return sign + digits[:cut] + "." + digits[cut:], nil
}

// ParseMajor converts a major-unit decimal string to minor units of code:
// ("123.45", "USD") → 12345, ("500", "JPY") → 500.
//
// It uses ParseDecimal's grammar, but any value that fits in int64 minor
// units is accepted regardless of ParseDecimal's digit limits, so every
// FormatMinor output parses back. More fractional digits than the exponent
// allows fail with ErrTooPrecise, even trailing zeros ("1.230" for USD):
// the input is refused rather than rounded, so an amount is never changed
// silently. Errors wrap ErrUnknownCurrency, ErrInvalidDecimal, ErrTooPrecise
// or ErrOverflow.
func ParseMajor(s string, code string) (int64, error) {
	exp, err := exponentOf(code)
	if err != nil {
		return 0, err
	}
	neg, intPart, fracPart, err := scanDecimal(s)
	if err != nil {
		return 0, err
	}
	if len(fracPart) > exp {
		return 0, fmt.Errorf("%w: %s has %d fractional digits, %s allows %d",
			ErrTooPrecise, clip(s), len(fracPart), code, exp)
	}
	// Accumulate the magnitude in uint64 so that math.MinInt64 is reachable.
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	var mag uint64
	push := func(d uint64) bool {
		if mag > (limit-d)/10 {
			return false
		}
		mag = mag*10 + d
		return true
	}
	for _, part := range [...]string{intPart, fracPart} {
		for i := range len(part) {
			if !push(uint64(part[i] - '0')) {
				return 0, fmt.Errorf("%w: %s %s in minor units", ErrOverflow, clip(s), code)
			}
		}
	}
	for range exp - len(fracPart) {
		if !push(0) {
			return 0, fmt.Errorf("%w: %s %s in minor units", ErrOverflow, clip(s), code)
		}
	}
	if neg {
		// -mag wraps to the right two's-complement value, including for
		// mag = 2^63 (math.MinInt64).
		return int64(-mag), nil
	}
	return int64(mag), nil
}
