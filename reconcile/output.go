package reconcile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rulekeeper/rulekeeper/policy"
)

// applyOutput computes the desired output from the vendor's, line by line:
// excluded tokens leave the lines that held them, the prefix and any include
// the vendor text lacks go on a new first line (a new last line for includes
// without a prefix). Lines it does not touch stay byte for byte, so a folded
// block keeps its shape and the diff shows only what the policy asks.
func applyOutput(vendor scalar, o policy.Output) (scalar, error) {
	s := vendor
	s.lines = slices.Clone(vendor.lines)
	if o.Replace != nil {
		s.lines = []string{*o.Replace}
		if s.literal {
			s.lines = strings.Split(*o.Replace, "\n")
		}
		return s, nil
	}
	if len(o.Exclude) > 0 {
		var kept []string
		for _, line := range s.lines {
			cut := line
			for _, tok := range o.Exclude {
				cut = dropToken(cut, tok)
			}
			if cut == line || strings.TrimSpace(cut) != "" {
				kept = append(kept, cut)
			}
		}
		s.lines = kept
		if strings.TrimSpace(s.text()) == "" && o.Prefix == "" && len(o.Include) == 0 {
			return s, fmt.Errorf("exclude removes every token of the output, and Falco needs an output text: keep a token, or give the whole text with replace")
		}
	}
	text := s.text()
	var missing []string
	for _, inc := range o.Include {
		if !hasToken(text, inc) && !hasToken(o.Prefix, inc) && !slices.Contains(missing, inc) {
			missing = append(missing, inc)
		}
	}
	head := missing
	if o.Prefix != "" && !strings.HasPrefix(strings.TrimSpace(text), o.Prefix) {
		head = append([]string{o.Prefix}, missing...)
	} else if len(missing) > 0 {
		s.lines = appendLine(s, strings.Join(missing, " "))
		return s, nil
	}
	if len(head) > 0 {
		s.lines = prependLine(s, strings.Join(head, " "))
	}
	return s, nil
}

// prependLine adds a line before the others; where line breaks are part of
// the value (a literal block) it joins the first line instead.
func prependLine(s scalar, l string) []string {
	if len(s.lines) == 0 {
		return []string{l}
	}
	if s.folds(l) {
		return []string{l + " " + s.text()}
	}
	if s.literal || !s.multiline() {
		return append([]string{l + " " + s.lines[0]}, s.lines[1:]...)
	}
	return append([]string{l}, s.lines...)
}

func appendLine(s scalar, l string) []string {
	if len(s.lines) == 0 {
		return []string{l}
	}
	if s.folds(l) {
		return []string{s.text() + " " + l}
	}
	if s.literal || !s.multiline() {
		last := len(s.lines) - 1
		return append(slices.Clone(s.lines[:last]), s.lines[last]+" "+l)
	}
	return append(s.lines, l)
}

// folds reports whether a new line l of a folded block would not read as
// its text joined by a space (leading white space makes it a more-indented
// line, whose line breaks stay; a line break is no line): the value then
// becomes one line, which render writes in a style that holds it.
func (s scalar) folds(l string) bool {
	return s.header != "" && !s.literal && (strings.TrimLeft(l, " \t") != l || strings.Contains(l, "\n"))
}

// multiline reports whether the value is laid out over lines of its own
// (a block, or plain text continued on further lines).
func (s scalar) multiline() bool {
	return s.header != "" || (s.style == 0 && len(s.lines) > 1)
}

// dropToken removes every occurrence of tok in line that hasToken would
// find (bounded by spaces, the line's ends or the brackets Falco outputs
// use), with one space beside it, so that `(user=%user.name rest` loses
// `user=%user.name` as `x user=%user.name rest` does.
func dropToken(line, tok string) string {
	for i := 0; ; {
		j := strings.Index(line[i:], tok)
		if j < 0 {
			return line
		}
		start, end := i+j, i+j+len(tok)
		if !bounded(line, start, end) {
			i = start + 1
			continue
		}
		switch {
		case end < len(line) && line[end] == ' ':
			end++
		case start > 0 && line[start-1] == ' ':
			start--
		}
		line = line[:start] + line[end:]
		i = start
	}
}

func bounded(text string, start, end int) bool {
	return (start == 0 || strings.ContainsRune(" \t(,", rune(text[start-1]))) &&
		(end == len(text) || strings.ContainsRune(" \t),", rune(text[end])))
}

// hasToken reports whether tok appears in text as a whole word: bounded by
// the start, the end, white space or the brackets Falco outputs use.
func hasToken(text, tok string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], tok)
		if j < 0 {
			return false
		}
		if bounded(text, i+j, i+j+len(tok)) {
			return true
		}
		start := i + j
		i = start + 1
	}
}
