package money

import (
	"fmt"
	"math/big"
	"strings"
)

// Digit limits for ParseDecimal. 18 integer digits keeps any quantity or rate
// below 10^18, so products with int64 amounts stay well inside what big.Int
// handles cheaply and a typo of many extra digits is refused instead of
// producing an absurd invoice. 12 fractional digits covers unit-of-measure
// conversions and tax rates with room to spare.
const (
	MaxIntegerDigits    = 18
	MaxFractionalDigits = 12
)

// Decimal is an exact decimal number, used for quantities and tax rates,
// never for amounts (those are int64 minor units).
//
// The zero value is 0. A Decimal is immutable, so copies may be shared
// freely. Compare with Cmp, not ==, because the representation holds a
// pointer.
type Decimal struct {
	// unscaled × 10^-scale is the value. It is kept normalised (no trailing
	// zero digits when scale > 0, and scale 0 for zero) so that String and
	// Scale need no work and equal values have equal representations.
	unscaled *big.Int // nil means 0
	scale    int
}

// ParseDecimal parses a plain decimal string: an optional '-', integer
// digits, and optionally '.' followed by fractional digits.
//
// The grammar is deliberately narrow, matching JSON numbers without
// exponents, so that every service and client agree on what a string means:
//   - a leading '+' is rejected (one spelling per value);
//   - "5." and ".5" are rejected: digits are required on both sides of '.';
//   - leading zeros ("007") are rejected, as in JSON, so that the integer
//     digit limit counts significant digits;
//   - exponents ("1e3"), "NaN", "Inf", spaces, and non-ASCII digits are
//     rejected.
//
// "-0" is accepted and equals 0. Trailing fractional zeros ("2.50") are
// accepted but count towards MaxFractionalDigits, since the limit applies to
// what the caller wrote. All errors wrap ErrInvalidDecimal; a too-long
// integer part also wraps ErrOverflow and a too-long fraction ErrTooPrecise.
func ParseDecimal(s string) (Decimal, error) {
	neg, intPart, fracPart, err := scanDecimal(s)
	if err != nil {
		return Decimal{}, err
	}
	if len(intPart) > MaxIntegerDigits {
		return Decimal{}, fmt.Errorf("%w: %s has %d integer digits, more than %d (%w)",
			ErrInvalidDecimal, clip(s), len(intPart), MaxIntegerDigits, ErrOverflow)
	}
	if len(fracPart) > MaxFractionalDigits {
		return Decimal{}, fmt.Errorf("%w: %s has %d fractional digits, more than %d (%w)",
			ErrInvalidDecimal, clip(s), len(fracPart), MaxFractionalDigits, ErrTooPrecise)
	}
	fracPart = strings.TrimRight(fracPart, "0")
	u, ok := new(big.Int).SetString(intPart+fracPart, 10)
	if !ok {
		// scanDecimal admits only ASCII digits, so this cannot happen; the
		// check stays so that a future grammar change fails loudly.
		return Decimal{}, fmt.Errorf("%w: %s", ErrInvalidDecimal, clip(s))
	}
	if u.Sign() == 0 {
		return Decimal{}, nil
	}
	if neg {
		u.Neg(u)
	}
	return Decimal{unscaled: u, scale: len(fracPart)}, nil
}

// scanDecimal checks the shared grammar of ParseDecimal and ParseMajor and
// splits s into sign, integer digits and fractional digits. Length limits
// differ between the callers, so they are left to them.
func scanDecimal(s string) (neg bool, intPart, fracPart string, err error) {
	fail := func(why string) (bool, string, string, error) {
		return false, "", "", fmt.Errorf("%w: %s: %s", ErrInvalidDecimal, clip(s), why)
	}
	if s == "" {
		return fail("empty")
	}
	i := 0
	switch s[0] {
	case '-':
		neg = true
		i++
	case '+':
		return fail("leading '+' is not allowed")
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intPart = s[start:i]
	switch {
	case intPart == "" && i < len(s) && s[i] == '.':
		return fail("digits are required before '.'")
	case intPart == "" && i == len(s):
		return fail("no digits")
	case intPart == "":
		return fail(fmt.Sprintf("unexpected character at offset %d", i))
	case len(intPart) > 1 && intPart[0] == '0':
		return fail("leading zeros are not allowed")
	}
	if i < len(s) && s[i] == '.' {
		i++
		start = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		fracPart = s[start:i]
		if fracPart == "" {
			return fail("digits are required after '.'")
		}
	}
	if i != len(s) {
		return fail(fmt.Sprintf("unexpected character at offset %d", i))
	}
	return neg, intPart, fracPart, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// String returns the canonical form: no exponent, no '+', no leading zeros,
// and no trailing fractional zeros ("2.5", "-0.125", "3", "0").
// ParseDecimal accepts it and yields an equal value.
func (d Decimal) String() string {
	if d.unscaled == nil {
		return "0"
	}
	digits := new(big.Int).Abs(d.unscaled).String()
	sign := ""
	if d.unscaled.Sign() < 0 {
		sign = "-"
	}
	if d.scale == 0 {
		return sign + digits
	}
	if len(digits) <= d.scale {
		digits = strings.Repeat("0", d.scale-len(digits)+1) + digits
	}
	cut := len(digits) - d.scale
	return sign + digits[:cut] + "." + digits[cut:]
}

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int {
	if d.unscaled == nil {
		return 0
	}
	return d.unscaled.Sign()
}

// IsZero reports whether d is 0.
func (d Decimal) IsZero() bool { return d.Sign() == 0 }

// Scale returns the number of fractional digits of the canonical form, which
// is also the smallest scale that represents d exactly: Scale of "2.50" is 1.
func (d Decimal) Scale() int { return d.scale }

// Cmp returns -1, 0 or +1 as d is less than, equal to or greater than e.
func (d Decimal) Cmp(e Decimal) int {
	// Aligning both to the larger scale keeps the comparison in integers.
	a, b := d.int(), e.int()
	switch {
	case d.scale < e.scale:
		a = new(big.Int).Mul(a, pow10(e.scale-d.scale))
	case e.scale < d.scale:
		b = new(big.Int).Mul(b, pow10(d.scale-e.scale))
	}
	return a.Cmp(b)
}

// Rat returns d as a new big.Rat, for callers that need further exact
// arithmetic; changing the result does not affect d.
func (d Decimal) Rat() *big.Rat {
	return new(big.Rat).SetFrac(d.int(), pow10(d.scale))
}

// MarshalText implements encoding.TextMarshaler with the canonical form, so
// a Decimal in a JSON body is a string and never passes through float64.
func (d Decimal) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseDecimal, so a
// request field decodes and validates in one step.
func (d *Decimal) UnmarshalText(text []byte) error {
	v, err := ParseDecimal(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// int returns the unscaled value; callers must not modify it.
func (d Decimal) int() *big.Int {
	if d.unscaled == nil {
		return new(big.Int)
	}
	return d.unscaled
}

var bigTen = big.NewInt(10)

// pow10 returns a new 10^n.
func pow10(n int) *big.Int {
	return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil)
}
