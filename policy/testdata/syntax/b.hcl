rule "Write below etc" {
  priority = "LOUD"
}
