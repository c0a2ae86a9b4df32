// Package policy is rulekeeper's policy language: the HCL schema of a policy
// directory, its decoding and checks (each problem a diagnostic with a source
// range), the Falco field catalogues that `%field` references are checked
// against, and evaluation against one node's facts into a plain Desired value.
//
// A policy is read in two steps so that `rulekeeper validate` can check it
// without a node: Load parses and checks the structure; Evaluate computes the
// values for a Node, or for UnknownNode where the facts are not known.
//
//	falco {
//	  rules_files = ["/etc/falco/falco_rules.yaml"]
//	  strategy    = "in_place"
//	}
//	rule "Terminal shell in container" {
//	  when = node.labels.env != "dev"
//	  output {
//	    prefix  = "NEW SHELL!!!"
//	    include = ["user_id=%user.uid", "repo=%container.image.repository"]
//	  }
//	  priority = "NOTICE"
//	}
package policy
