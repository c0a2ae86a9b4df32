# Line breaks, tabs and leading spaces are text rulekeeper can write into any
# output style; control characters are refused.
rule "Line breaks and tabs" {
  output {
    prefix  = "  FIRST\nSECOND\tTAB"
    include = ["a\nb"]
  }
}

rule "A NUL" {
  output {
    replace = "cut\u0000here"
  }
}

rule "A bell" {
  output {
    prefix  = "ring\u0007"
    exclude = ["esc\u001b"]
  }
}
