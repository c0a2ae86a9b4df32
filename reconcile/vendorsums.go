package reconcile

// vendorCut holds the SHA-256 of upstream rules files whose full parse
// vouches for the quick cut (TestVendorCutProven parses each copy in
// testdata/falco again). A node whose rules file is one of these, byte for
// byte, skips the full parse on its first pass as on every later one; any
// other bytes are parsed whole once and then recorded in the state.
var vendorCut = map[string]bool{
	"57c7fada789f679925e816c62912260d74dcdd222aa8c105cfebfd8a940bbb7a": true, // falco 0.32.1 rules/falco_rules.yaml
	"27b7664dc6c7d507cb6e5b112d658aed6707da72324bde409d250670e423fd58": true, // falco 0.32.1 rules/falco_rules.local.yaml
	"58a4f187b6b04b43ae938132325cbbb6b2bb9eb4e76e553f5b4b7b5b360ee0b4": true, // falcosecurity/rules falco-rules-3.2.0
	"1c15d5d543635b76e31cca39d7df8bf4caf50a428613c314d92986a23bfcb617": true, // falcosecurity/rules falco-rules-5.1.0
}
