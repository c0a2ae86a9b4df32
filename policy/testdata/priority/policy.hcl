rule "Lower case is fine" {
  priority = "notice"
}

rule "Typo" {
  priority = "NOTCE"
}

rule "Not a priority" {
  priority = "LOUD"
}
