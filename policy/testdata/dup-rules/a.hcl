rule "Terminal shell in container" {
  priority = "NOTICE"
}
