package money

import (
	"errors"
	"testing"
)

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{
		"3", "2.5", "0.125", "-1.5", "0", "-0", "2.50", "0.000000000001",
		"999999999999999999.999999999999", "1000000000000000000", "0.0000000000001",
		"", " ", "+2", ".5", "5.", "1e3", "NaN", "Inf", "1.2.3", "01", "-", "١",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDecimal(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidDecimal) {
				t.Fatalf("ParseDecimal(%q) error %v does not wrap ErrInvalidDecimal", s, err)
			}
			return
		}
		canon := d.String()
		again, err := ParseDecimal(canon)
		if err != nil {
			t.Fatalf("canonical %q of %q does not re-parse: %v", canon, s, err)
		}
		if again.Cmp(d) != 0 || again.String() != canon {
			t.Fatalf("%q → %q → %q changed value", s, canon, again.String())
		}
		if d.Scale() > MaxFractionalDigits {
			t.Fatalf("%q has scale %d", s, d.Scale())
		}
	})
}

func FuzzParseMajor(f *testing.F) {
	for _, seed := range []struct {
		s    string
		code string
	}{
		{"123.45", "USD"}, {"-0.05", "USD"}, {"500", "JPY"}, {"1.234", "KWD"},
		{"0.0001", "CLF"}, {"92233720368547758.07", "USD"}, {"-92233720368547758.08", "USD"},
		{"-9223372036854775808", "JPY"}, {"9223372036854775808", "JPY"},
		{"1.230", "USD"}, {"500.0", "JPY"}, {"1.00", "usd"}, {"1", "XAU"}, {"", "USD"},
	} {
		f.Add(seed.s, seed.code)
	}
	f.Fuzz(func(t *testing.T, s, code string) {
		v, err := ParseMajor(s, code)
		if err != nil {
			return
		}
		formatted, err := FormatMinor(v, code)
		if err != nil {
			t.Fatalf("ParseMajor accepted %q %q but FormatMinor failed: %v", s, code, err)
		}
		back, err := ParseMajor(formatted, code)
		if err != nil {
			t.Fatalf("FormatMinor(%d, %q) = %q does not re-parse: %v", v, code, formatted, err)
		}
		if back != v {
			t.Fatalf("%q %s → %d → %q → %d", s, code, v, formatted, back)
		}
	})
}
