package reconcile

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The YAML library rulekeeper parses with ends a line at NEL (U+0085), LINE
// SEPARATOR (U+2028) and PARAGRAPH SEPARATOR (U+2029), as YAML 1.1 says;
// Falco's yaml-cpp reads them as text (seen with the real Falco 0.32.1 and
// 0.40.0: a description holding U+2028 loads). Before parsing, each is
// swapped for a private character of the same length in bytes and runes, so
// lines, columns and offsets stay those of the file, and swapped back in
// every value read.
var textBreaks = []struct{ char, stand string }{
	{"\u0085", "\u07fa"},
	{"\u2028", "\ue028"},
	{"\u2029", "\ue029"},
}

// asFalcoReads returns the bytes to hand the YAML library, and a replacer
// that turns the values it reads back into the file's text (nil when
// nothing was swapped). A carriage return with no line feed after it is
// refused: Falco 0.32 refuses the file ("illegal map value") while 0.40
// loads a file whose lines all end so, and refuses one that mixes them with
// line feeds; no one reading of it holds for every Falco.
func asFalcoReads(data []byte) ([]byte, *strings.Replacer, error) {
	for i := bytes.IndexByte(data, '\r'); i >= 0; i = nextByte(data, i+1, '\r') {
		if i+1 == len(data) || data[i+1] != '\n' {
			line := bytes.Count(data[:i], []byte("\n")) + 1
			return nil, nil, fmt.Errorf("line %d: a carriage return with no line feed after it (an old Mac line end), which Falco versions read differently (0.32 refuses it, 0.40 and later end a line there), so rulekeeper does not edit this file; convert its line ends to \\n or \\r\\n", line)
		}
	}
	var pairs []string
	for _, b := range textBreaks {
		if !bytes.Contains(data, []byte(b.char)) {
			continue
		}
		if bytes.Contains(data, []byte(b.stand)) {
			line := bytes.Count(data[:bytes.Index(data, []byte(b.stand))], []byte("\n")) + 1
			return nil, nil, fmt.Errorf("line %d: the file holds both %+q and %+q, which rulekeeper cannot tell apart when it reads the file; write one of them as an escape in a double-quoted string", line, b.stand, b.char)
		}
		pairs = append(pairs, b.char, b.stand)
	}
	if pairs == nil {
		return data, nil, nil
	}
	masked := []byte(strings.NewReplacer(pairs...).Replace(string(data)))
	for i := 0; i < len(pairs); i += 2 {
		pairs[i], pairs[i+1] = pairs[i+1], pairs[i]
	}
	return masked, strings.NewReplacer(pairs...), nil
}

func nextByte(data []byte, from int, c byte) int {
	i := bytes.IndexByte(data[from:], c)
	if i < 0 {
		return -1
	}
	return from + i
}

// unmask puts the file's own characters back into every value read.
func unmask(docs []*yaml.Node, r *strings.Replacer) {
	for _, d := range docs {
		walk(d, func(n *yaml.Node) {
			n.Value = r.Replace(n.Value)
			n.Anchor = r.Replace(n.Anchor)
		})
	}
}

// unmarshal is yaml.Unmarshal reading the text as Falco does: see
// asFalcoReads.
func unmarshal(text []byte, v any) error {
	readable, swapped, err := asFalcoReads(text)
	if err != nil {
		return err
	}
	if swapped == nil {
		return yaml.Unmarshal(text, v) // the common case: no copy
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(readable, &doc); err != nil {
		return err
	}
	unmask([]*yaml.Node{&doc}, swapped)
	if n, ok := v.(*yaml.Node); ok {
		*n = doc
		return nil
	}
	if doc.Kind == 0 {
		return nil // empty text: nothing to decode, as yaml.Unmarshal
	}
	return doc.Decode(v)
}
