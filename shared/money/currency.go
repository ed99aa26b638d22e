package money

import (
	"fmt"
	"slices"
	"strconv"
)

// exponents maps every ISO 4217 List One code that has a minor unit to its
// number of minor-unit digits, as published by the maintenance agency up to
// amendment 179 (2025): XCG replaced ANG, ZWG replaced ZWL, SLE replaced SLL,
// and BGN was withdrawn when Bulgaria adopted the euro; CUC is no longer
// listed. The table is code rather than data loaded at start-up so that every
// service agrees on it at compile time and a change shows up in review.
//
// Fund codes with a minor unit (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW,
// XAD) are included because they are legal ISO codes that a tenant may bill
// in. Codes whose minor unit is "N.A." (precious metals XAU, XAG, XPD, XPT;
// units of account XDR, XSU, XUA; bond units XBA-XBD; XTS; XXX) are left out:
// they have no minor unit, so an int64 minor-unit amount in them means
// nothing, and rejecting them keeps that mistake out of the ledger.
var exponents = map[string]int{
	"AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2, "AZN": 2,
	"BAM": 2, "BBD": 2, "BDT": 2, "BHD": 3, "BIF": 0, "BMD": 2, "BND": 2, "BOB": 2, "BOV": 2, "BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2,
	"CAD": 2, "CDF": 2, "CHE": 2, "CHF": 2, "CHW": 2, "CLF": 4, "CLP": 0, "CNY": 2, "COP": 2, "COU": 2, "CRC": 2, "CUP": 2, "CVE": 2, "CZK": 2,
	"DJF": 0, "DKK": 2, "DOP": 2, "DZD": 2,
	"EGP": 2, "ERN": 2, "ETB": 2, "EUR": 2,
	"FJD": 2, "FKP": 2,
	"GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2, "GMD": 2, "GNF": 0, "GTQ": 2, "GYD": 2,
	"HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2,
	"IDR": 2, "ILS": 2, "INR": 2, "IQD": 3, "IRR": 2, "ISK": 0,
	"JMD": 2, "JOD": 3, "JPY": 0,
	"KES": 2, "KGS": 2, "KHR": 2, "KMF": 0, "KPW": 2, "KRW": 0, "KWD": 3, "KYD": 2, "KZT": 2,
	"LAK": 2, "LBP": 2, "LKR": 2, "LRD": 2, "LSL": 2, "LYD": 3,
	"MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2, "MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2, "MXV": 2, "MYR": 2, "MZN": 2,
	"NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2, "NZD": 2,
	"OMR": 3,
	"PAB": 2, "PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2, "PYG": 0,
	"QAR": 2,
	"RON": 2, "RSD": 2, "RUB": 2, "RWF": 0,
	"SAR": 2, "SBD": 2, "SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2, "SHP": 2, "SLE": 2, "SOS": 2, "SRD": 2, "SSP": 2, "STN": 2, "SVC": 2, "SYP": 2, "SZL": 2,
	"THB": 2, "TJS": 2, "TMT": 2, "TND": 3, "TOP": 2, "TRY": 2, "TTD": 2, "TWD": 2, "TZS": 2,
	"UAH": 2, "UGX": 0, "USD": 2, "USN": 2, "UYI": 0, "UYU": 2, "UYW": 4, "UZS": 2,
	"VED": 2, "VES": 2, "VND": 0, "VUV": 0,
	"WST": 2,
	"XAD": 2, "XAF": 0, "XCD": 2, "XCG": 2, "XOF": 0, "XPF": 0,
	"YER": 2,
	"ZAR": 2, "ZMW": 2, "ZWG": 2,
}

// Exponent returns the number of minor-unit digits of an ISO 4217 currency
// (2 for USD, 0 for JPY, 3 for KWD, 4 for CLF). ok is false for anything
// ValidCurrency rejects.
func Exponent(code string) (exp int, ok bool) {
	exp, ok = exponents[code]
	return exp, ok
}

// ValidCurrency reports whether code is an upper-case ISO 4217 code in the
// table. Lower case is rejected rather than normalised: codes are stored and
// compared byte-for-byte, so accepting "usd" here would let "usd" and "USD"
// become two different currencies further down.
func ValidCurrency(code string) bool {
	if len(code) != 3 {
		return false
	}
	for i := range len(code) {
		if code[i] < 'A' || code[i] > 'Z' {
			return false
		}
	}
	_, ok := exponents[code]
	return ok
}

// Currencies returns every accepted code in ascending order, for building
// enum lists and documentation. The slice is a fresh copy each call.
func Currencies() []string {
	codes := make([]string, 0, len(exponents))
	for code := range exponents {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	return codes
}

func exponentOf(code string) (int, error) {
	if !ValidCurrency(code) {
		return 0, fmt.Errorf("%w: %s", ErrUnknownCurrency, clip(code))
	}
	return exponents[code], nil
}

// clip bounds untrusted input quoted into error messages, which end up in
// logs and API responses.
func clip(s string) string {
	const limit = 40
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}
