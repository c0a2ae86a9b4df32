# Every setting of the policy language once.
falco {
  config        = "/etc/falco/falco.yaml"
  rules_files   = ["/etc/falco/falco_rules.yaml"]
  strategy      = "in_place"
  override_file = "/etc/falco/rules.d/50-rulekeeper.yaml"
  falco_version = "0.32.1"
}

rule "Terminal shell in container" {
  when = node.labels.env != "dev"
  output {
    prefix  = "NEW SHELL!!!"
    include = ["user_id=%user.uid", "repo=%container.image.repository"]
    exclude = ["user_loginuid=%user.loginuid"]
  }
  priority = "NOTICE"
  enabled  = true
}

rule "Write below etc" {
  output {
    replace = "File below /etc opened for writing (user=%user.name command=%proc.cmdline file=%fd.name)"
  }
}
