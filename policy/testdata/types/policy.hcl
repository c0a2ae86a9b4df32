falco {
  rules_files = "/etc/falco/falco_rules.yaml"
}

rule "Terminal shell in container" {
  when = "sometimes"
  output {
    prefix  = 3
    include = "user_id=%user.uid"
  }
  enabled = "maybe"
}
