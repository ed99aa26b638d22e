package agents

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"cloud.google.com/go/civil"

	"github.com/ledgerline/ledgerline/shared/money"
)

// The built-in AP agent reads a bill's text line by line with patterns: labelled
// fields (invoice number, dates, totals, tax ids), line items in the shapes bills
// print them ("Widget 3 x 12.50 37.50", "2 x Hosting @ 49.00", columns), amounts in
// either decimal convention, and dates in ISO and the common written forms. What it
// cannot read it leaves empty with a confidence of 0 rather than guessing.

// extractBill reads in's document.
func extractBill(in APExtractInput) (APExtraction, error) {
	d := newBillDoc(in.Text)
	conf := map[string]float64{}
	out := APExtraction{Confidence: conf}

	out.Currency, conf["currency"] = d.currency(in.DefaultCurrency)
	exp, _ := money.Exponent(out.Currency)
	mdy := out.Currency == "USD" || strings.Contains(d.text, "United States") || strings.Contains(d.text, "USA")

	// Vendor: as the document names it, matched to a known vendor by tax id, then name.
	name, nameConf := d.vendorName()
	taxID := d.vendorTaxID()
	out.Vendor = ExtractedVendor{Name: name, TaxID: taxID}
	conf["vendor"] = nameConf
	if v, how := matchVendor(in.Vendors, name, taxID); v != nil {
		id := v.ID
		out.Vendor.MatchedID = &id
		if out.Vendor.Name == "" {
			out.Vendor.Name = v.Name
		}
		conf["vendor"] = map[string]float64{"tax_id": 0.98, "name": 0.9}[how]
	}
	if out.Vendor.Name == "" {
		out.Vendor.Name = "Unknown vendor"
		conf["vendor"] = 0
	}

	if n := d.number(); n != "" {
		out.Number = &n
		conf["number"] = 0.9
	} else {
		conf["number"] = 0
	}

	issue, issueConf, due, dueConf := d.dates(mdy)
	switch {
	case issue != nil:
		out.IssueDate = *issue
	case in.ReceivedOn != nil:
		out.IssueDate, issueConf = *in.ReceivedOn, 0.2
	default:
		return APExtraction{}, errors.New("the document shows no date, and the input gives no received_on")
	}
	conf["issue_date"] = issueConf
	if due == nil {
		if days, ok := d.terms(); ok {
			dd := out.IssueDate.AddDays(days)
			due, dueConf = &dd, 0.7
		}
	}
	if due != nil && due.Before(out.IssueDate) {
		due, dueConf = nil, 0
	}
	out.DueDate, conf["due_date"] = due, dueConf

	sums := d.sums(exp)
	lines, linesConf := d.items(exp)
	if len(lines) == 0 {
		base := sums.total
		if sums.subtotal > 0 {
			base = sums.subtotal
		} else if sums.taxAmount > 0 && sums.total > sums.taxAmount {
			base = sums.total - sums.taxAmount
		}
		if base <= 0 {
			return APExtraction{}, errors.New("the document shows no line items and no total")
		}
		lines = []ExtractedLine{{Description: "Total as stated (no line items found)", Quantity: "1", UnitAmountMinor: base}}
		linesConf = 0.2
	}
	if sums.taxRate != nil {
		for i := range lines {
			if lines[i].TaxRate == nil {
				r := *sums.taxRate
				lines[i].TaxRate = &r
			}
		}
	}
	out.Lines = lines
	conf["lines"] = linesConf

	computed, err := out.LinesTotalMinor()
	if err != nil {
		return APExtraction{}, err
	}
	switch {
	case sums.total > 0 && sums.total == computed:
		out.TotalMinor, conf["total_minor"] = sums.total, 0.95
	case sums.total > 0:
		// The document's own total is kept; the difference is for a person to see.
		out.TotalMinor, conf["total_minor"] = sums.total, 0.7
	default:
		out.TotalMinor, conf["total_minor"] = computed, 0.4
	}
	return out, nil
}

// billDoc is a bill's text as lines, with the buyer's block marked so the vendor's
// details are not read from it.
type billDoc struct {
	text  string
	lines []string
	buyer []bool // the line belongs to the bill-to / ship-to block
}

var buyerLabel = regexp.MustCompile(`(?i)^(bill(ed)? to|ship to|sold to|invoice to|customer|deliver to|to)\b\s*:?`)

func newBillDoc(text string) *billDoc {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	d := &billDoc{text: text}
	inBuyer := false
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimRightFunc(l, unicode.IsSpace)
		trimmed := strings.TrimSpace(l)
		switch {
		case trimmed == "":
			inBuyer = false
		case buyerLabel.MatchString(trimmed):
			inBuyer = true
		}
		d.lines = append(d.lines, l)
		d.buyer = append(d.buyer, inBuyer)
	}
	return d
}

// --- currency ---------------------------------------------------------------------

var (
	currencyLabel = regexp.MustCompile(`(?i)\bcurrency\s*[:]?\s*([A-Za-z]{3})\b`)
	codeNearDigit = regexp.MustCompile(`\b([A-Z]{3})\s?[0-9]|[0-9]\s?([A-Z]{3})\b`)
	dollarSign    = regexp.MustCompile(`(US|AU|A|CA|C|NZ|S|HK|R|MX)?\$`)
	dollarCodes   = map[string]string{"": "USD", "US": "USD", "AU": "AUD", "A": "AUD", "CA": "CAD", "C": "CAD",
		"NZ": "NZD", "S": "SGD", "HK": "HKD", "R": "BRL", "MX": "MXN"}
	signCodes = map[string]string{"€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "₺": "TRY", "₪": "ILS", "₱": "PHP", "₫": "VND"}
)

// currency is the bill's currency: a labelled one, else the ISO code printed most
// often beside an amount, else the currency sign printed most often, else the default.
func (d *billDoc) currency(def string) (string, float64) {
	if m := currencyLabel.FindStringSubmatch(d.text); m != nil && money.ValidCurrency(strings.ToUpper(m[1])) {
		return strings.ToUpper(m[1]), 0.95
	}
	codes := map[string]int{}
	for _, m := range codeNearDigit.FindAllStringSubmatch(d.text, -1) {
		for _, c := range m[1:] {
			if c != "" && money.ValidCurrency(c) {
				codes[c]++
			}
		}
	}
	if c := mostFrequent(codes); c != "" {
		return c, 0.9
	}
	signs := map[string]int{}
	for _, m := range dollarSign.FindAllStringSubmatch(d.text, -1) {
		signs[dollarCodes[m[1]]]++
	}
	for sign, code := range signCodes {
		if n := strings.Count(d.text, sign); n > 0 {
			signs[code] += n
		}
	}
	if c := mostFrequent(signs); c != "" {
		if c == "USD" && signs["USD"] > 0 && dollarSign.FindStringSubmatch(d.text)[1] == "" {
			return c, 0.6 // a bare $ is dollars of some country
		}
		return c, 0.8
	}
	if money.ValidCurrency(def) {
		return def, 0.3
	}
	return "USD", 0.1
}

func mostFrequent(counts map[string]int) string {
	best, n := "", 0
	for k, v := range counts {
		if v > n || v == n && k < best {
			best, n = k, v
		}
	}
	return best
}

// --- amounts ----------------------------------------------------------------------

// amountToken matches an amount as bills print it: digits with thousands separators
// (, . ' or none) and decimals after a . or a ,.
var amountToken = regexp.MustCompile(`[0-9](?:[0-9.,']*[0-9])?`)

// parseAmount reads an amount in either decimal convention into minor units of a
// currency with exp decimals, rounding half to even beyond them (a unit price of
// 0.125 USD is 12 cents).
func parseAmount(tok string, exp int) (int64, bool) {
	s := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r == '.' || r == ',' || r == '\'' {
			return r
		}
		return -1
	}, tok)
	s = strings.ReplaceAll(s, "'", "")
	if s == "" {
		return 0, false
	}
	lastDot, lastComma := strings.LastIndexByte(s, '.'), strings.LastIndexByte(s, ',')
	decimal := byte(0)
	switch {
	case lastDot >= 0 && lastComma >= 0:
		// Both: the later one is the decimal separator (1,234.56 or 1.234,56).
		decimal = map[bool]byte{true: '.', false: ','}[lastDot > lastComma]
	case lastDot >= 0 || lastComma >= 0:
		sep := byte('.')
		if lastComma >= 0 {
			sep = ','
		}
		last := max(lastDot, lastComma)
		digitsAfter := len(s) - last - 1
		// One separator followed by exactly three digits is a thousands separator
		// (1,500 or 1.500) unless the currency has three decimals; repeated, it is
		// always one (1.500.000).
		before := strings.TrimLeft(s[:last], "0")
		if strings.Count(s, string(sep)) > 1 || digitsAfter == 3 && exp != 3 && before != "" {
			decimal = 0
		} else {
			decimal = sep
		}
	}
	var intPart, frac string
	if decimal != 0 {
		i := strings.LastIndexByte(s, decimal)
		intPart, frac = s[:i], s[i+1:]
	} else {
		intPart = s
	}
	intPart = strings.NewReplacer(",", "", ".", "").Replace(intPart)
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	if frac == "" {
		frac = "0"
	}
	v, err := money.ParseDecimal(intPart + "." + frac)
	if err != nil {
		return 0, false
	}
	minor, err := money.LineAmountPrice(one, v, exp, money.HalfEven)
	if err != nil || minor < 0 {
		return 0, false
	}
	return minor, true
}

var one, _ = money.ParseDecimal("1")

// lastAmount is the last amount on a line that is not a percentage.
func lastAmount(line string, exp int) (int64, bool) {
	locs := amountToken.FindAllStringIndex(line, -1)
	for i := len(locs) - 1; i >= 0; i-- {
		end := locs[i][1]
		if rest := strings.TrimSpace(line[end:]); strings.HasPrefix(rest, "%") {
			continue
		}
		if v, ok := parseAmount(line[locs[i][0]:end], exp); ok {
			return v, true
		}
	}
	return 0, false
}

// --- labelled sums ------------------------------------------------------------------

var (
	dueTotalLabel = regexp.MustCompile(`(?i)^(amount due|balance due|total due|grand total|total payable|amount payable|total amount due|invoice total|total to pay|please pay|` +
		`gesamtbetrag|rechnungsbetrag|endbetrag|zu zahlen|total ttc|montant total|net à payer|importe total|total a pagar|totale)\b`)
	totalLabel    = regexp.MustCompile(`(?i)^total\b`)
	subtotalLabel = regexp.MustCompile(`(?i)^(sub[- ]?total|net total|net amount|total net|total (excl|before tax|ex\.? ?vat))`)
	taxLabel      = regexp.MustCompile(`(?i)^(total )?(vat|tax|gst|hst|pst|sales tax|mwst|iva|tva|btw)\b`)
	percent       = regexp.MustCompile(`([0-9]{1,3}(?:[.,][0-9]{1,4})?)\s*%`)
)

type billSums struct {
	total, subtotal, taxAmount int64
	taxRate                    *string
}

// sums reads the labelled totals: the amount due (a due-total label wins over a plain
// "Total", and the last of a kind wins), the subtotal, and the tax with its rate.
func (d *billDoc) sums(exp int) billSums {
	var s billSums
	rank := 0
	for _, raw := range d.lines {
		l := strings.TrimSpace(stripBullet(raw))
		switch {
		case subtotalLabel.MatchString(l):
			if v, ok := lastAmount(l, exp); ok {
				s.subtotal = v
			}
		case taxLabel.MatchString(l) && !dueTotalLabel.MatchString(l) && !taxIDLabel.MatchString(l) && !vatColon.MatchString(l):
			if m := percent.FindStringSubmatch(l); m != nil {
				if r, err := money.ParseDecimal(strings.ReplaceAll(m[1], ",", ".")); err == nil {
					rs := r.String()
					s.taxRate = &rs
				}
			}
			if v, ok := lastAmount(l, exp); ok {
				s.taxAmount = v
			}
		case dueTotalLabel.MatchString(l):
			if v, ok := lastAmount(l, exp); ok && rank <= 2 {
				s.total, rank = v, 2
			}
		case totalLabel.MatchString(l):
			if v, ok := lastAmount(l, exp); ok && rank <= 1 {
				s.total, rank = v, 1
			}
		}
	}
	return s
}

// --- line items -------------------------------------------------------------------

const (
	priceTok = `((?:[A-Z]{3} ?|[^\s\w]{1,3})?[0-9][0-9.,']*)`
	qtyTok   = `([0-9]+(?:[.,][0-9]+)?)`
)

var (
	// "Widget A 3 x 12.50 37.50", "Consulting 10 @ $150.00", "Paper 5 × 4,20 € = 21,00 €"
	itemDescFirst = regexp.MustCompile(`^(.*?\pL.*?)\s+` + qtyTok + `\s*(?:x|X|×|\*|@)\s*` + priceTok +
		`(?:\s*(?:€|£|¥|[A-Z]{3}))?(?:\s*(?:each|ea\.?|/\s*\pL+))?(?:\s+=?\s*` + priceTok + `(?:\s*(?:€|£|¥|[A-Z]{3}))?)?\s*$`)
	// "2 x Hosting plan @ 49.00 98.00"
	itemQtyFirst = regexp.MustCompile(`^` + qtyTok + `\s*(?:x|X|×)\s+(.*?\pL.*?)\s+(?:@|at)\s*` + priceTok +
		`(?:\s*(?:each|ea\.?))?(?:\s+=?\s*` + priceTok + `)?\s*$`)
	cellSplit  = regexp.MustCompile(`\t+| {2,}`)
	headerRow  = regexp.MustCompile(`(?i)^(description|item|items|product|service|qty|quantity|details)$`)
	bulletLead = regexp.MustCompile(`^\s*(?:[-*•]|[0-9]{1,3}[.)])\s+`)
)

func stripBullet(l string) string { return bulletLead.ReplaceAllString(l, "") }

// items reads the line items and rates its reading: high when every line's printed
// amount is its quantity times its price.
func (d *billDoc) items(exp int) ([]ExtractedLine, float64) {
	var lines []ExtractedLine
	checked, consistent := 0, 0
	for _, raw := range d.lines {
		l := strings.TrimSpace(stripBullet(raw))
		if l == "" || dueTotalLabel.MatchString(l) || totalLabel.MatchString(l) || subtotalLabel.MatchString(l) || taxLabel.MatchString(l) {
			continue
		}
		item, amount, ok := parseItem(raw, l, exp)
		if !ok {
			continue
		}
		if amount != nil {
			checked++
			q, _ := money.ParseDecimal(item.Quantity)
			if v, err := money.LineAmount(q, item.UnitAmountMinor, money.HalfEven); err == nil && v == *amount {
				consistent++
			}
		}
		lines = append(lines, item)
		if len(lines) == 200 {
			break
		}
	}
	switch {
	case len(lines) == 0:
		return nil, 0
	case checked == 0:
		return lines, 0.6
	case consistent == checked:
		return lines, 0.85
	default:
		return lines, 0.4
	}
}

// parseItem reads one line item: raw keeps the column spacing, l is trimmed.
func parseItem(raw, l string, exp int) (ExtractedLine, *int64, bool) {
	var desc, qty, price, amount string
	if m := itemDescFirst.FindStringSubmatch(l); m != nil {
		desc, qty, price, amount = m[1], m[2], m[3], m[4]
	} else if m := itemQtyFirst.FindStringSubmatch(l); m != nil {
		qty, desc, price, amount = m[1], m[2], m[3], m[4]
	} else if cells := cellSplit.Split(strings.TrimSpace(stripBullet(raw)), -1); len(cells) >= 3 {
		var rate string
		var nums []string
		desc = cells[0]
		for _, c := range cells[1:] {
			c = strings.TrimSpace(c)
			switch {
			case strings.HasSuffix(c, "%"):
				rate = strings.TrimSpace(strings.TrimSuffix(c, "%"))
			case amountToken.MatchString(c) && !strings.ContainsFunc(c, unicode.IsLetter) || isCodeAmount(c):
				nums = append(nums, c)
			default:
				desc += " " + c
			}
		}
		if !strings.ContainsFunc(desc, unicode.IsLetter) || headerRow.MatchString(strings.TrimSpace(desc)) {
			return ExtractedLine{}, nil, false
		}
		switch {
		case len(nums) >= 3:
			qty, price, amount = nums[len(nums)-3], nums[len(nums)-2], nums[len(nums)-1]
		case len(nums) == 2:
			qty, price = nums[0], nums[1]
		default:
			return ExtractedLine{}, nil, false
		}
		line, amt, ok := buildItem(desc, qty, price, amount, exp)
		if ok && rate != "" {
			if r, err := money.ParseDecimal(strings.ReplaceAll(rate, ",", ".")); err == nil {
				rs := r.String()
				line.TaxRate = &rs
			}
		}
		return line, amt, ok
	} else {
		return ExtractedLine{}, nil, false
	}
	return buildItem(desc, qty, price, amount, exp)
}

var codeAmount = regexp.MustCompile(`^([A-Z]{3} ?[0-9][0-9.,']*|[0-9][0-9.,']* ?[A-Z]{3})$`)

func isCodeAmount(c string) bool { return codeAmount.MatchString(c) }

func buildItem(desc, qty, price, amount string, exp int) (ExtractedLine, *int64, bool) {
	desc = strings.Trim(strings.TrimSpace(desc), ":-–|")
	desc = strings.TrimSpace(desc)
	if desc == "" || len(desc) > 500 {
		return ExtractedLine{}, nil, false
	}
	q, err := money.ParseDecimal(strings.ReplaceAll(qty, ",", "."))
	if err != nil || q.Sign() <= 0 {
		return ExtractedLine{}, nil, false
	}
	unit, ok := parseAmount(price, exp)
	if !ok {
		return ExtractedLine{}, nil, false
	}
	line := ExtractedLine{Description: desc, Quantity: q.String(), UnitAmountMinor: unit}
	if amount == "" {
		return line, nil, true
	}
	a, ok := parseAmount(amount, exp)
	if !ok {
		return line, nil, true
	}
	return line, &a, true
}

// --- dates --------------------------------------------------------------------------

var (
	dateLabel = regexp.MustCompile(`(?i)\b(due date|payment due(?: date)?|due on|due by|pay by|payable by|due|invoice date|date of issue|issue date|issued on|issued|bill date|billing date|document date|date)\b\.?\s*[:#-]?\s*`)
	// Dates of something other than the bill's issue.
	otherDate = regexp.MustCompile(`(?i)(delivery|order|ship(ping|ment)?|service|period|supply|tax point|start|end)\s*$`)
	isoDate   = regexp.MustCompile(`^([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})\b`)
	numDate   = regexp.MustCompile(`^([0-9]{1,2})([/.-])([0-9]{1,2})[/.-]([0-9]{4}|[0-9]{2})\b`)
	dayMonth  = regexp.MustCompile(`^([0-9]{1,2})(?:st|nd|rd|th)?[\s-]+(\pL{3,9})\.?,?[\s-]+([0-9]{4})\b`)
	monthDay  = regexp.MustCompile(`^(\pL{3,9})\.?\s+([0-9]{1,2})(?:st|nd|rd|th)?,?\s+([0-9]{4})\b`)
	months    = map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
		"oct": 10, "nov": 11, "dec": 12, "january": 1, "february": 2, "march": 3, "april": 4, "june": 6, "july": 7,
		"august": 8, "september": 9, "october": 10, "november": 11, "december": 12}
)

// parseDateAt reads a date at the start of s; ambiguous is set for a numeric date
// whose day and month could be swapped and was read by convention.
func parseDateAt(s string, mdy bool) (d civil.Date, ambiguous, ok bool) {
	s = strings.TrimSpace(s)
	atoi := func(x string) int { n, _ := strconv.Atoi(x); return n }
	valid := func(y, m, day int) (civil.Date, bool) {
		d := civil.Date{Year: y, Month: time.Month(m), Day: day}
		return d, m >= 1 && m <= 12 && d.IsValid() && y >= 1900 && y <= 2200
	}
	if m := isoDate.FindStringSubmatch(s); m != nil {
		d, ok := valid(atoi(m[1]), atoi(m[2]), atoi(m[3]))
		return d, false, ok
	}
	if m := numDate.FindStringSubmatch(s); m != nil {
		a, b, y := atoi(m[1]), atoi(m[3]), atoi(m[4])
		if y < 100 {
			y += 2000
		}
		switch {
		case a > 12:
			d, ok := valid(y, b, a)
			return d, false, ok
		case b > 12:
			d, ok := valid(y, a, b)
			return d, false, ok
		case a == b:
			d, ok := valid(y, a, b)
			return d, false, ok
		case m[2] == ".":
			// Dotted dates are day first wherever they are written.
			d, ok := valid(y, b, a)
			return d, false, ok
		case mdy:
			d, ok := valid(y, a, b)
			return d, true, ok
		default:
			d, ok := valid(y, b, a)
			return d, true, ok
		}
	}
	if m := dayMonth.FindStringSubmatch(s); m != nil {
		if mo, found := months[strings.ToLower(m[2])]; found {
			d, ok := valid(atoi(m[3]), mo, atoi(m[1]))
			return d, false, ok
		}
	}
	if m := monthDay.FindStringSubmatch(s); m != nil {
		if mo, found := months[strings.ToLower(m[1])]; found {
			d, ok := valid(atoi(m[3]), mo, atoi(m[2]))
			return d, false, ok
		}
	}
	return civil.Date{}, false, false
}

// dates reads the labelled issue and due dates; without an issue label, the first date
// in the document is taken as the issue date, with less confidence.
func (d *billDoc) dates(mdy bool) (issue *civil.Date, issueConf float64, due *civil.Date, dueConf float64) {
	rate := func(amb bool, c float64) float64 {
		if amb {
			return c * 2 / 3
		}
		return c
	}
	for i, l := range d.lines {
		if d.buyer[i] {
			continue
		}
		for _, loc := range dateLabel.FindAllStringSubmatchIndex(l, -1) {
			label := strings.ToLower(l[loc[2]:loc[3]])
			if otherDate.MatchString(l[:loc[0]]) {
				continue
			}
			date, amb, ok := parseDateAt(l[loc[1]:], mdy)
			if !ok {
				continue
			}
			if strings.Contains(label, "due") || strings.Contains(label, "pay") {
				if due == nil {
					due, dueConf = &date, rate(amb, 0.9)
				}
			} else if issue == nil {
				issue, issueConf = &date, rate(amb, 0.9)
			}
		}
	}
	if issue == nil {
		for i, l := range d.lines {
			if d.buyer[i] {
				continue
			}
			if date, amb, ok := firstDate(l, mdy); ok && (due == nil || *due != date) {
				issue, issueConf = &date, rate(amb, 0.5)
				break
			}
		}
	}
	return issue, issueConf, due, dueConf
}

// firstDate finds the first date anywhere on a line.
func firstDate(l string, mdy bool) (civil.Date, bool, bool) {
	for i := 0; i < len(l); i++ {
		if i > 0 && isWordByte(l[i-1]) || !isWordByte(l[i]) {
			continue
		}
		if d, amb, ok := parseDateAt(l[i:], mdy); ok {
			return d, amb, true
		}
	}
	return civil.Date{}, false, false
}

func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

var (
	netTerms   = regexp.MustCompile(`(?i)\bnet\s*([0-9]{1,3})\b`)
	daysTerms  = regexp.MustCompile(`(?i)\b(?:terms|within|in)\s*[:]?\s*([0-9]{1,3})\s*days\b`)
	onReceipt  = regexp.MustCompile(`(?i)\b(due (up)?on receipt|payable on receipt|immediate payment)\b`)
	numberLabl = regexp.MustCompile(`(?i)\b(?:invoice|inv|bill|document)\s*(?:no\.?|number|num\.?|#|nr\.?)\s*[:.#]?\s*([A-Za-z0-9][A-Za-z0-9\-/_.]{0,40})`)
	numberBare = regexp.MustCompile(`(?i)^(?:tax )?invoice\s*[:#]\s*([A-Za-z0-9][A-Za-z0-9\-/_.]{0,40})`)
)

// terms reads payment terms as days after the issue date.
func (d *billDoc) terms() (int, bool) {
	if m := netTerms.FindStringSubmatch(d.text); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, true
	}
	if m := daysTerms.FindStringSubmatch(d.text); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, true
	}
	if onReceipt.MatchString(d.text) {
		return 0, true
	}
	return 0, false
}

// number is the vendor's invoice number: a labelled value with a digit in it.
func (d *billDoc) number() string {
	for _, l := range d.lines {
		l = strings.TrimSpace(l)
		for _, re := range []*regexp.Regexp{numberLabl, numberBare} {
			if m := re.FindStringSubmatch(l); m != nil {
				n := strings.TrimRight(m[1], ".-/")
				if strings.ContainsFunc(n, unicode.IsDigit) && len(n) <= 64 {
					return n
				}
			}
		}
	}
	return ""
}

// --- vendor -------------------------------------------------------------------------

var (
	vendorLabel = regexp.MustCompile(`(?i)^(?:from|vendor|supplier|seller|bill from|billed by|remit to|payee|issued by|sold by)\s*:\s*(.+)$`)
	titleLine   = regexp.MustCompile(`(?i)^(tax |commercial |proforma |pro forma )?(invoice|bill|statement|receipt|credit note)( #.*| no.*| number.*)?$`)
	taxIDLabel  = regexp.MustCompile(`(?i:\b(?:tax\s*id|tax\s*(?:no|number|reg(?:istration)?(?:\s*no)?)|vat\s*(?:id|no|number|reg(?:istration)?(?:\s*(?:no|number))?)|tin|ein|abn|gst\s*(?:no|number|reg(?:istration)?(?:\s*no)?)|ust-?id(?:nr)?|uid|siret|nif|cif)\b\.?\s*[:#]?\s*)([A-Z]{0,3} ?[0-9][0-9A-Z.\-]*(?: [0-9][0-9A-Z.\-]*)*)`)
	vatColon    = regexp.MustCompile(`(?i:\bvat\s*:\s*)([A-Z]{2}[0-9A-Z]{6,14})\b`)
)

// vendorName is the vendor as the document names it: a labelled name, else the first
// line that reads like a name (not a title, a label or the buyer's block).
func (d *billDoc) vendorName() (string, float64) {
	for i, l := range d.lines {
		if d.buyer[i] {
			continue
		}
		if m := vendorLabel.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			if n := cleanName(m[1]); n != "" {
				return n, 0.75
			}
		}
	}
	for i, l := range d.lines {
		l = strings.TrimSpace(l)
		if d.buyer[i] || l == "" || titleLine.MatchString(l) || strings.Contains(l, ":") || !strings.ContainsFunc(l, unicode.IsLetter) {
			continue
		}
		if _, _, ok := firstDate(l, false); ok {
			continue
		}
		if n := cleanName(l); n != "" {
			return n, 0.5
		}
	}
	return "", 0
}

func cleanName(s string) string {
	// A name runs to the first column gap: "Acme Ltd     Invoice #12".
	s = cellSplit.Split(strings.TrimSpace(s), 2)[0]
	s = strings.Trim(s, " ,;|-")
	return clip(s, 200)
}

// vendorTaxID is the first tax id outside the buyer's block.
func (d *billDoc) vendorTaxID() *string {
	for i, l := range d.lines {
		if d.buyer[i] {
			continue
		}
		for _, re := range []*regexp.Regexp{taxIDLabel, vatColon} {
			if m := re.FindStringSubmatch(l); m != nil {
				id := strings.TrimRight(strings.TrimSpace(m[1]), ".-")
				if n := len(normalizeTaxID(id)); n >= 5 && n <= 32 && len(id) <= 64 {
					return &id
				}
			}
		}
	}
	return nil
}

func normalizeTaxID(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9', r >= 'A' && r <= 'Z':
			return r
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return -1
	}, s)
}

// sameTaxID compares tax ids ignoring formatting and a country prefix on one side
// (GB123456789 and 123 4567 89).
func sameTaxID(a, b string) bool {
	a, b = normalizeTaxID(a), normalizeTaxID(b)
	if a == "" || b == "" {
		return false
	}
	strip := func(s string) string {
		if len(s) > 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' {
			return s[2:]
		}
		return s
	}
	return a == b || strip(a) == strip(b)
}

// legalSuffixes are dropped from the end of names before they are compared.
var legalSuffixes = []string{"inc", "incorporated", "llc", "ltd", "limited", "gmbh", "ag", "sa", "sas", "sarl", "bv", "nv",
	"plc", "corp", "corporation", "co", "company", "oy", "ab", "as", "srl", "spa", "pty", "lp", "llp", "kg", "se"}

func normalizeName(s string) string {
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	for len(words) > 1 && slices.Contains(legalSuffixes, words[len(words)-1]) {
		words = words[:len(words)-1]
	}
	return strings.Join(words, " ")
}

// matchVendor finds the known vendor the document is from: the one with its tax id,
// else the one with its name (ignoring case, punctuation and legal suffixes). A
// name shared by two vendors matches neither.
func matchVendor(vendors []VendorOption, name string, taxID *string) (*VendorOption, string) {
	if taxID != nil {
		for i, v := range vendors {
			if v.TaxID != nil && sameTaxID(*v.TaxID, *taxID) {
				return &vendors[i], "tax_id"
			}
		}
	}
	n := normalizeName(name)
	if n == "" {
		return nil, ""
	}
	var found *VendorOption
	for i, v := range vendors {
		if normalizeName(v.Name) == n {
			if found != nil && found.ID != v.ID {
				return nil, ""
			}
			found = &vendors[i]
		}
	}
	if found == nil {
		return nil, ""
	}
	return found, "name"
}
