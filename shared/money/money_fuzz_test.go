package money

import (
	"encoding/json"
	"errors"
	"math/big"
	"testing"
)

// FuzzFormatMinor formats any amount in any currency code: never a panic, and every
// amount it formats parses back to itself exactly.
func FuzzFormatMinor(f *testing.F) {
	for _, seed := range []struct {
		v    int64
		code string
	}{
		{0, "USD"}, {-1, "USD"}, {12345, "JPY"}, {1234, "KWD"}, {9223372036854775807, "USD"},
		{-9223372036854775808, "CLF"}, {5, "usd"}, {5, ""}, {5, "XXX"}, {5, "US"},
	} {
		f.Add(seed.v, seed.code)
	}
	f.Fuzz(func(t *testing.T, v int64, code string) {
		s, err := FormatMinor(v, code)
		if err != nil {
			if ValidCurrency(code) {
				t.Fatalf("FormatMinor(%d, %q) refused a valid currency: %v", v, code, err)
			}
			return
		}
		back, err := ParseMajor(s, code)
		if err != nil {
			t.Fatalf("FormatMinor(%d, %q) = %q does not parse: %v", v, code, s, err)
		}
		if back != v {
			t.Fatalf("%d %s → %q → %d", v, code, s, back)
		}
	})
}

// withinRounding checks got is one rounding of exact with mode: half a unit for the
// nearest-integer modes, less than one for truncation.
func withinRounding(t *testing.T, got int64, exact *big.Rat, mode RoundingMode, what string) {
	t.Helper()
	diff := new(big.Rat).Sub(new(big.Rat).SetInt64(got), exact)
	diff.Abs(diff)
	limit := big.NewRat(1, 2)
	if mode == Down {
		limit = big.NewRat(1, 1)
		if diff.Cmp(limit) >= 0 {
			t.Fatalf("%s: %d is %s from %s", what, got, diff.FloatString(6), exact.FloatString(6))
		}
		return
	}
	if diff.Cmp(limit) > 0 {
		t.Fatalf("%s: %d is %s from %s", what, got, diff.FloatString(6), exact.FloatString(6))
	}
}

// FuzzLineAmount prices arbitrary quantity and price strings the way invoice lines do:
// never a panic; a result is within one rounding of the exact product, and a refusal
// is a parse error or an overflow.
func FuzzLineAmount(f *testing.F) {
	f.Add("3", int64(15000), "0.0125", 2, "half_even")
	f.Add("0.333", int64(100), "1.005", 3, "half_up")
	f.Add("999999999999999999.999999999999", int64(9223372036854775807), "999999999999", 0, "down")
	f.Add("-2.5", int64(-1), "-0.5", 4, "half_even")
	f.Add("1e3", int64(1), "NaN", -1, "up")
	f.Fuzz(func(t *testing.T, qty string, unitMinor int64, unitPrice string, exp int, modeName string) {
		mode, err := ParseRoundingMode(modeName)
		if err != nil {
			mode = RoundingMode(len(modeName) % 3)
		}
		q, err := ParseDecimal(qty)
		if err != nil {
			return
		}
		got, err := LineAmount(q, unitMinor, mode)
		exact := new(big.Rat).Mul(q.Rat(), new(big.Rat).SetInt64(unitMinor))
		checkPriced(t, got, err, exact, mode, "LineAmount "+qty)

		p, err := ParseDecimal(unitPrice)
		if err != nil {
			return
		}
		exp = exp % 8
		got, err = LineAmountPrice(q, p, exp, mode)
		if exp < 0 {
			if err == nil {
				t.Fatalf("negative exponent %d accepted", exp)
			}
			return
		}
		exact = new(big.Rat).Mul(q.Rat(), p.Rat())
		exact.Mul(exact, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(exp)), nil)))
		checkPriced(t, got, err, exact, mode, "LineAmountPrice "+qty+" × "+unitPrice)
	})
}

// FuzzTax taxes arbitrary bases at arbitrary rate strings.
func FuzzTax(f *testing.F) {
	f.Add(int64(45000), "20", "half_even")
	f.Add(int64(-1), "8.875", "half_up")
	f.Add(int64(9223372036854775807), "100.000001", "down")
	f.Add(int64(1), "-0.0000001", "")
	f.Fuzz(func(t *testing.T, base int64, rate string, modeName string) {
		mode, err := ParseRoundingMode(modeName)
		if err != nil {
			mode = RoundingMode(len(modeName) % 3)
		}
		r, err := ParseDecimal(rate)
		if err != nil {
			return
		}
		got, err := Tax(base, r, mode)
		exact := new(big.Rat).Mul(new(big.Rat).SetInt64(base), r.Rat())
		exact.Quo(exact, big.NewRat(100, 1))
		checkPriced(t, got, err, exact, mode, "Tax "+rate)
	})
}

func checkPriced(t *testing.T, got int64, err error, exact *big.Rat, mode RoundingMode, what string) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrOverflow) {
			t.Fatalf("%s: %v", what, err)
		}
		// Only a result beyond int64 may overflow.
		limit := new(big.Rat).SetInt64(1 << 62)
		limit.Mul(limit, big.NewRat(2, 1))
		if new(big.Rat).Abs(exact).Cmp(new(big.Rat).Sub(limit, big.NewRat(1, 1))) < 0 {
			t.Fatalf("%s: overflow on %s", what, exact.FloatString(3))
		}
		return
	}
	withinRounding(t, got, exact, mode, what)
}

// FuzzDecimalJSON decodes arbitrary JSON into a Decimal the way request bodies do: a
// value round-trips through its JSON form exactly.
func FuzzDecimalJSON(f *testing.F) {
	for _, seed := range []string{`"2.50"`, `"-0"`, `2.5`, `null`, `"1e3"`, `""`, `"0.000000000001"`, `{}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Decimal
		if err := json.Unmarshal(b, &d); err != nil {
			return
		}
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("%q decoded but does not encode: %v", b, err)
		}
		var again Decimal
		if err := json.Unmarshal(out, &again); err != nil || again.Cmp(d) != 0 || again.String() != d.String() {
			t.Fatalf("%q → %s → %v %v", b, out, again, err)
		}
	})
}
