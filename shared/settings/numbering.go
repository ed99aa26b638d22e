package settings

import (
	"fmt"
	"strconv"
	"strings"

	"cloud.google.com/go/civil"
)

// A numbering format is how a document's gapless sequence number is written, e.g.
// "INV-{yyyy}-{number:5}" → INV-2026-00042. Tokens:
//
//	{number}    the sequence number (exactly once)
//	{number:N}  the sequence number, zero-padded to N digits (1 to 12)
//	{yyyy} {yy} {mm}  the year and month of the document's date
//
// Everything else is literal: upper-case letters, digits and - _ / . # only, because
// payment references are matched against numbers in upper case, and a number must read
// the same in a bank statement, a URL and a file name. The sequence itself never resets
// and is unique per tenant and direction, so numbers stay unique across a change of
// format unless the new format can write an old number exactly; the database's unique
// key refuses such a number rather than issue it twice.

// MaxNumberFormat bounds a format's length.
const MaxNumberFormat = 40

type numberPart struct {
	literal string
	token   string // number, yyyy, yy, mm; "" for a literal
	width   int    // zero padding of the number
}

// CheckNumberFormat says what is wrong with format ("" when nothing is).
func CheckNumberFormat(format string) string {
	_, msg := parseNumberFormat(format)
	return msg
}

// FormatNumber writes sequence number n of a document dated date in format. It fails
// only for a format that CheckNumberFormat refuses, which a stored version never has.
func FormatNumber(format string, n int64, date civil.Date) (string, error) {
	parts, msg := parseNumberFormat(format)
	if msg != "" {
		return "", fmt.Errorf("settings: numbering format %q %s", format, msg)
	}
	var b strings.Builder
	for _, p := range parts {
		switch p.token {
		case "":
			b.WriteString(p.literal)
		case "number":
			fmt.Fprintf(&b, "%0*d", p.width, n)
		case "yyyy":
			fmt.Fprintf(&b, "%04d", date.Year)
		case "yy":
			fmt.Fprintf(&b, "%02d", date.Year%100)
		case "mm":
			fmt.Fprintf(&b, "%02d", int(date.Month))
		}
	}
	return b.String(), nil
}

func parseNumberFormat(format string) ([]numberPart, string) {
	if format == "" || len(format) > MaxNumberFormat {
		return nil, fmt.Sprintf("must be 1 to %d characters", MaxNumberFormat)
	}
	var parts []numberPart
	numbers := 0
	for rest := format; rest != ""; {
		if rest[0] != '{' {
			i := strings.IndexByte(rest, '{')
			if i < 0 {
				i = len(rest)
			}
			lit := rest[:i]
			for _, c := range lit {
				if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("-_/.#", c)) {
					return nil, fmt.Sprintf("may hold only upper-case letters, digits, - _ / . # and tokens; %q is not allowed", c)
				}
			}
			parts = append(parts, numberPart{literal: lit})
			rest = rest[i:]
			continue
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return nil, "has a { without its }"
		}
		token := rest[1:end]
		rest = rest[end+1:]
		switch {
		case token == "number":
			parts = append(parts, numberPart{token: "number", width: 1})
			numbers++
		case strings.HasPrefix(token, "number:"):
			w, err := strconv.Atoi(token[len("number:"):])
			if err != nil || w < 1 || w > 12 {
				return nil, "pads {number:N} to N digits, from 1 to 12"
			}
			parts = append(parts, numberPart{token: "number", width: w})
			numbers++
		case token == "yyyy" || token == "yy" || token == "mm":
			parts = append(parts, numberPart{token: token})
		default:
			return nil, fmt.Sprintf("has an unknown token {%s}; use {number}, {number:N}, {yyyy}, {yy} or {mm}", token)
		}
	}
	if numbers != 1 {
		return nil, "must hold {number} or {number:N} exactly once"
	}
	return parts, ""
}
