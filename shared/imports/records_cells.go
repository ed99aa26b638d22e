package imports

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/civil"
	"github.com/xuri/excelize/v2"

	"github.com/ledgerline/ledgerline/shared/money"
)

// Row error codes. They are stable: clients and the errors file carry them.
const (
	CodeMissingValue     = "missing_value"     // a required cell is blank
	CodeInvalidDate      = "invalid_date"      // not a date written YYYY-MM-DD (or, in XLSX, a date cell)
	CodeInvalidAmount    = "invalid_amount"    // not an amount exact to the currency's minor unit
	CodeInvalidNumber    = "invalid_number"    // a quantity, rate or number of days that is not one
	CodeInvalidCurrency  = "invalid_currency"  // not an ISO 4217 code
	CodeInvalidChoice    = "invalid_choice"    // not one of the values the column takes
	CodeInvalidValue     = "invalid_value"     // breaks a rule of the API (length, e-mail, date order)
	CodeExtraCells       = "extra_cells"       // values to the right of the last header
	CodeConflictingValue = "conflicting_value" // disagrees with another row of the same invoice or payment
	CodeDuplicate        = "duplicate"         // the same counterparty, or allocation, twice
	CodeTooManyLines     = "too_many_lines"    // an invoice over invoices.MaxLines
	CodeTooMany          = "too_many_allocations"
	CodeAmountMismatch   = "amount_mismatch" // line_amount is not quantity × unit_amount
	CodeOverAllocated    = "allocation_exceeds_amount"
	CodeUnsupported      = "unsupported_value" // a discount, or a tax amount without its rate
	CodeNotImported      = "not_imported"      // another row of the same invoice or payment failed
)

// problem is what is wrong with one cell.
type problem struct{ code, reason string }

func fail(code, format string, args ...any) *problem {
	return &problem{code: code, reason: fmt.Sprintf(format, args...)}
}

// quote shows a cell's value in a reason, clipped: reasons end up in responses and in
// the errors file, and a cell may be megabytes long.
func quote(s string) string {
	const limit = 40
	if utf8.RuneCountInString(s) > limit {
		r := []rune(s)
		return strconv.Quote(string(r[:limit]) + "…")
	}
	return strconv.Quote(s)
}

// normValue is the form choices are compared in: lower case, without white space and
// _ - . (so "Bank Transfer", "bank_transfer" and "BANK-TRANSFER" are one value).
func normValue(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch r {
		case ' ', '\t', '_', '-', '.', '\u00a0':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// choice is the values one column takes: the canonical values, and what ERP exports
// write for them.
type choice struct {
	allowed string            // for reasons: "receivable or payable"
	values  map[string]string // normValue → canonical
}

func newChoice(allowed string, values map[string][]string) choice {
	c := choice{allowed: allowed, values: map[string]string{}}
	for canon, spellings := range values {
		c.values[normValue(canon)] = canon
		for _, s := range spellings {
			c.values[normValue(s)] = canon
		}
	}
	return c
}

func (c choice) parse(s string) (string, *problem) {
	if v, ok := c.values[s]; ok { // already canonical, as in most files
		return v, nil
	}
	if v, ok := c.values[normValue(s)]; ok {
		return v, nil
	}
	return "", fail(CodeInvalidChoice, "%s is not one of %s", quote(s), c.allowed)
}

var (
	counterpartyKinds = newChoice("customer, vendor or both", map[string][]string{
		"customer": {"client"},
		"vendor":   {"supplier"},
		"both":     {"customer and vendor", "customer/vendor", "customer & vendor", "vendor and customer", "supplier and customer", "customer and supplier"},
	})
	invoiceDirections = newChoice("receivable or payable", map[string][]string{
		"receivable": {"AR", "A/R", "accounts receivable", "sales", "sale", "sales invoice", "customer invoice", "invoice", "ACCREC", "SI"},
		"payable":    {"AP", "A/P", "accounts payable", "purchase", "purchases", "purchase invoice", "bill", "vendor bill", "vendor invoice", "supplier invoice", "supplier bill", "ACCPAY", "PI"},
	})
	invoiceStatuses = newChoice("draft or open", map[string][]string{
		"draft": {},
		"open":  {"issued", "finalized", "finalised", "approved", "authorised", "authorized", "posted", "sent", "awaiting payment"},
	})
	paymentDirections = newChoice("incoming or outgoing", map[string][]string{
		"incoming": {"in", "inbound", "received", "receipt", "receive", "receive payment", "customer payment", "payment received", "AR", "A/R"},
		"outgoing": {"out", "outbound", "sent", "paid", "spend", "bill payment", "vendor payment", "supplier payment", "disbursement", "AP", "A/P"},
	})
	paymentMethods = newChoice("bank_transfer, card, cash, check, direct_debit or other", map[string][]string{
		"bank_transfer": {"bank", "transfer", "wire", "wire transfer", "credit transfer", "ACH", "EFT", "BACS", "SEPA", "SEPA credit transfer", "FPS", "faster payments", "CHAPS"},
		"card":          {"credit card", "debit card", "visa", "mastercard", "amex", "american express"},
		"cash":          {},
		"check":         {"cheque"},
		"direct_debit":  {"DD", "SEPA direct debit", "ACH debit"},
		"other":         {},
	})
)

// parseCurrency accepts an ISO 4217 code in any case: a lower-case code in a file is
// unambiguous, unlike in the API where codes are compared byte for byte.
func parseCurrency(s string) (string, *problem) {
	c := strings.ToUpper(s)
	if !money.ValidCurrency(c) {
		return "", fail(CodeInvalidCurrency, "%s is not an ISO 4217 currency code such as USD, EUR or JPY", quote(s))
	}
	return c, nil
}

// parseText checks an identifier or text against the API's length limit, in bytes
// for identifiers as the database counts them.
func parseID(s string) (string, *problem) {
	if len(s) > 128 {
		return "", fail(CodeInvalidValue, "must be at most 128 characters")
	}
	return s, nil
}

// Excel's date serial numbers: 61 is 1900-03-01, the first day after the 29 February
// 1900 that Excel counts but never was; 2958465 is 9999-12-31.
const (
	minSerial1900 = 61
	maxSerial     = 2958465
)

var serialPattern = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// parseDate reads YYYY-MM-DD, also followed by a midnight time (what a date looks like
// when a system exports it as a date-time), and in XLSX an Excel date cell, whose raw
// value is a serial number of days (a fraction is a time of day, dropped).
//
// Nothing else is guessed: 01/02/2024 is the 1st of February in most of the world and
// the 2nd of January in the United States.
func parseDate(s string, src source) (civil.Date, *problem) {
	if d, ok := isoDate(s); ok && (len(s) == 10 || isMidnight(s[10:])) {
		return d, nil
	}
	if serialPattern.MatchString(s) {
		if !src.xlsx {
			return civil.Date{}, fail(CodeInvalidDate,
				"%s looks like an Excel date serial number; format the column as a date written YYYY-MM-DD before saving as CSV", quote(s))
		}
		v, err := strconv.ParseFloat(s, 64)
		lo := float64(minSerial1900)
		if src.date1904 {
			lo = 0
		}
		if err != nil || v < lo || v > maxSerial {
			return civil.Date{}, fail(CodeInvalidDate, "%s is not a date between 1900 and 9999", quote(s))
		}
		t, err := excelize.ExcelDateToTime(math.Floor(v), src.date1904)
		if err != nil {
			return civil.Date{}, fail(CodeInvalidDate, "%s is not a date", quote(s))
		}
		return civil.DateOf(t), nil
	}
	if strings.ContainsAny(s, "/.") {
		return civil.Date{}, fail(CodeInvalidDate,
			"%s: write dates as YYYY-MM-DD, such as 2025-01-31; 01/02/2025 is a different day in different countries", quote(s))
	}
	return civil.Date{}, fail(CodeInvalidDate, "%s is not a date written YYYY-MM-DD, such as 2025-01-31", quote(s))
}

// isoDate reads the YYYY-MM-DD at the start of s; it is the one date format of CSV
// files, read for every row, so it is read by hand rather than by time.Parse.
func isoDate(s string) (civil.Date, bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return civil.Date{}, false
	}
	n := func(part string) int {
		v := 0
		for i := range len(part) {
			if part[i] < '0' || part[i] > '9' {
				return -1
			}
			v = v*10 + int(part[i]-'0')
		}
		return v
	}
	y, m, d := n(s[:4]), n(s[5:7]), n(s[8:10])
	date := civil.Date{Year: y, Month: time.Month(m), Day: d}
	if y < 1 || m < 1 || d < 1 || !date.IsValid() {
		return civil.Date{}, false
	}
	return date, true
}

var midnight = regexp.MustCompile(`^([T ]00:00(:00(\.0+)?)?(Z|[+-]00:?00)?)?$`)

func isMidnight(rest string) bool { return midnight.MatchString(rest) }

var (
	thousandsPattern = regexp.MustCompile(`^-?[0-9]{1,3}([,'’ \x{00a0}\x{202f}][0-9]{3})+(\.[0-9]+)?$`)
	commaDecimal     = regexp.MustCompile(`^-?[0-9]+,[0-9]+$`)
	exponentPattern  = regexp.MustCompile(`^(-?)([0-9]+)(?:\.([0-9]+))?[eE]([+-]?[0-9]{1,3})$`)
	leadingZeros     = regexp.MustCompile(`^(-?)0+([0-9])`)
)

// excelDigits is the precision of an Excel number: 15 significant digits.
const excelDigits = 15

// parseNumber reads a plain decimal number: digits, optionally '-' before and '.' with
// digits after. Thousands separators, decimal commas, currency symbols and exponents
// are refused with a reason, not guessed at: 1,234 is one thousand two hundred and
// thirty-four in one country and one point two three four in another.
//
// In XLSX the raw value of a number cell is the shortest text of a binary double,
// which can be 1234.5600000000001 for what Excel shows as 1234.56, or 1E-3. There an
// exponent is expanded, and a value with more than 15 significant digits is rounded
// to 15, Excel's own precision, so the import sees the number Excel shows. The
// rounding is done on the decimal text; no float is involved.
func parseNumber(s string, src source) (money.Decimal, *problem) {
	t := s
	if src.xlsx {
		if e, ok := expandExponent(t); ok {
			t = e
		}
		var ok bool
		if t, ok = roundSignificant(t, excelDigits); !ok {
			return money.Decimal{}, fail(CodeInvalidNumber,
				"%s has more than %d digits before the decimal point, more than an Excel number holds exactly", quote(s), excelDigits)
		}
	}
	if strings.HasPrefix(t, "0") || strings.HasPrefix(t, "-0") {
		t = leadingZeros.ReplaceAllString(t, "$1$2")
	}
	d, err := money.ParseDecimal(t)
	if err == nil {
		return d, nil
	}
	switch {
	case thousandsPattern.MatchString(s):
		return money.Decimal{}, fail(CodeInvalidNumber, "%s: write numbers without thousands separators (1234.56, not 1,234.56)", quote(s))
	case commaDecimal.MatchString(s):
		return money.Decimal{}, fail(CodeInvalidNumber, "%s: use a point as the decimal separator (12.50, not 12,50)", quote(s))
	case strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")"):
		return money.Decimal{}, fail(CodeInvalidNumber, "%s: negative numbers are not accepted here", quote(s))
	case strings.HasPrefix(s, "+"):
		return money.Decimal{}, fail(CodeInvalidNumber, "%s: write numbers without a plus sign", quote(s))
	case strings.ContainsAny(s, "eE") && exponentPattern.MatchString(s):
		return money.Decimal{}, fail(CodeInvalidNumber, "%s: write the number out in full, without an exponent", quote(s))
	case strings.IndexFunc(s, func(r rune) bool { return !strings.ContainsRune("0123456789.-", r) }) >= 0:
		return money.Decimal{}, fail(CodeInvalidNumber, "%s: write a plain number, without currency symbols, codes or units", quote(s))
	}
	return money.Decimal{}, fail(CodeInvalidNumber, "%s is not a number written like 1234.56 (at most %d decimals)", quote(s), money.MaxFractionalDigits)
}

// expandExponent writes 1.5E-3 as 0.0015; exponents beyond three digits are not
// numbers anyone meant.
func expandExponent(s string) (string, bool) {
	m := exponentPattern.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	sign, intPart, frac := m[1], m[2], m[3]
	exp, _ := strconv.Atoi(m[4])
	digits := intPart + frac
	point := len(intPart) + exp // position of the decimal point in digits
	switch {
	case point <= 0:
		digits = strings.Repeat("0", 1-point) + digits
		point = 1
	case point > len(digits):
		digits += strings.Repeat("0", point-len(digits))
	}
	out := strings.TrimLeft(digits[:point], "0")
	if out == "" {
		out = "0"
	}
	if f := strings.TrimRight(digits[point:], "0"); f != "" {
		out += "." + f
	}
	return sign + out, true
}

// roundSignificant rounds a plain decimal to n significant digits, half away from
// zero as Excel displays numbers. Text that is not a plain decimal is returned as it
// is, for the parser to refuse. ok is false when the integer part alone has more than
// n significant digits: rounding would change the number, not its noise.
func roundSignificant(s string, n int) (string, bool) {
	sign := ""
	body := s
	if strings.HasPrefix(body, "-") {
		sign, body = "-", body[1:]
	}
	intPart, frac, _ := strings.Cut(body, ".")
	all := intPart + frac
	if intPart == "" || strings.IndexFunc(all, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return s, true
	}
	first := strings.IndexFunc(all, func(r rune) bool { return r != '0' })
	if first < 0 || len(all)-first <= n {
		return s, true
	}
	if len(intPart)-first > n {
		return s, false
	}
	cut := first + n // within the fraction, since the integer part has at most n digits
	kept, ok := new(big.Int).SetString(all[:cut], 10)
	if !ok {
		return s, true
	}
	if all[cut] >= '5' {
		kept.Add(kept, big.NewInt(1))
	}
	fracDigits := cut - len(intPart)
	digits := kept.String()
	if len(digits) <= fracDigits {
		digits = strings.Repeat("0", fracDigits-len(digits)+1) + digits
	}
	out := digits[:len(digits)-fracDigits]
	if f := strings.TrimRight(digits[len(digits)-fracDigits:], "0"); f != "" {
		out += "." + f
	}
	return sign + out, true
}

// parseAmount reads an amount in major units that must not be negative.
func parseAmount(s string, src source) (money.Decimal, *problem) {
	d, p := parseNumber(s, src)
	if p != nil {
		p.code = CodeInvalidAmount
		return d, p
	}
	if d.Sign() < 0 {
		return d, fail(CodeInvalidAmount, "%s: amounts must not be negative", quote(s))
	}
	return d, nil
}

// toMinor converts an amount in major units to minor units of currency, exactly: an
// amount with more decimals than the currency has is refused, never rounded.
func toMinor(d money.Decimal, currency string) (int64, *problem) {
	exp, _ := money.Exponent(currency)
	if d.Scale() > exp {
		if exp == 0 {
			return 0, fail(CodeInvalidAmount, "%s amounts have no decimals; %s has %d", currency, d.String(), d.Scale())
		}
		return 0, fail(CodeInvalidAmount, "%s amounts have at most %d decimals; %s has %d", currency, exp, d.String(), d.Scale())
	}
	minor, err := money.ParseMajor(d.String(), currency)
	if err != nil {
		return 0, fail(CodeInvalidAmount, "%s is too large an amount", d.String())
	}
	return minor, nil
}

// parseQuantity reads a quantity greater than zero.
func parseQuantity(s string, src source) (money.Decimal, *problem) {
	d, p := parseNumber(s, src)
	if p != nil {
		return d, p
	}
	if d.Sign() <= 0 {
		return d, fail(CodeInvalidNumber, "%s: the quantity must be greater than zero", quote(s))
	}
	return d, nil
}

var hundred, _ = money.ParseDecimal("100")
var one, _ = money.ParseDecimal("1")

// parseRate reads a tax rate in percent: "20" or "20%" is 20 %.
//
// An Excel cell formatted as a percentage shows 20% but holds 0.2, and its raw value
// is what an XLSX import reads. Reading it as 0.2 % would be silently wrong by a factor
// of a hundred, and multiplying every rate below 1 by 100 would be wrong for the real
// rates below 1 % that some countries have. So in XLSX a bare number between 0 and 1
// is refused with the two ways to say what is meant; CSV has no such ambiguity, since
// Excel writes a percentage cell to CSV as "20%".
func parseRate(s string, src source) (money.Decimal, *problem) {
	t, percent := strings.CutSuffix(s, "%")
	t = strings.TrimSpace(t)
	d, p := parseNumber(t, src)
	if p != nil {
		return d, p
	}
	switch {
	case d.Sign() < 0 || d.Cmp(hundred) > 0:
		return d, fail(CodeInvalidNumber, "%s: a tax rate is a percentage from 0 to 100", quote(s))
	case d.Scale() > 6:
		return d, fail(CodeInvalidNumber, "%s: a tax rate has at most 6 decimals", quote(s))
	case src.xlsx && !percent && d.Sign() > 0 && d.Cmp(one) < 0:
		return d, fail(CodeInvalidNumber,
			"%s would be a rate of %s%%: a cell formatted as a percentage holds 20%% as 0.2. Enter rates as numbers (20 for 20%%), or as text with a %% sign for a rate below 1%%",
			quote(s), d.String())
	}
	return d, nil
}

var termsPattern = regexp.MustCompile(`^(?:net ?|n)?([0-9]{1,3})(?: ?days?)?$`)

// parseDays reads payment terms in days: 30, "Net 30", "N30", "30 days", or "Due on
// receipt" (0), as accounting systems name their terms.
func parseDays(s string) (int, *problem) {
	t := strings.ToLower(strings.Join(strings.Fields(s), " "))
	switch t {
	case "due on receipt", "due upon receipt", "on receipt", "immediate", "immediately":
		return 0, nil
	}
	if m := termsPattern.FindStringSubmatch(t); m != nil {
		n, _ := strconv.Atoi(m[1])
		if n <= 365 {
			return n, nil
		}
	}
	return 0, fail(CodeInvalidNumber, "%s is not a number of days from 0 to 365 (such as 30 or Net 30)", quote(s))
}
