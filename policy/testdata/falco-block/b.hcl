falco {
  strategy = "override"
}

rule "Terminal shell in container" {
  priority = "NOTICE"
}
