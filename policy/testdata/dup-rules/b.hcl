rule "Terminal shell in container" {
  enabled = false
}

rule "Write below etc" {
  priority = "ERROR"
}

rule "Write below etc" {
  priority = "ERROR"
}
