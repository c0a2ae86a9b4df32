rule "Terminal shell in container" {
  when = node.labels.team == "security"
  output {
    prefix = "NEW SHELL!!!"
  }
}

rule "Write below etc" {
  when     = try(node.labels.team, "none") == "security"
  priority = "ERROR"
}
