falco {
  strateg = "in_place"
}

rules "Terminal shell in container" {
}

rule "Terminal shell in container" {
  output {
    prefix = "NEW SHELL!!!"
    suffix = "!"
  }
  source = "not ours"
}

rule {
  priority = "NOTICE"
}

rule "Write below etc" {
  output "extra" {
    prefix = "x"
  }
}
