# The exam task: the output of "Terminal shell in container" starts with
# NEW SHELL!!! and includes the user id and the image repository.
falco {
  rules_files = ["/etc/falco/falco_rules.yaml"]
  strategy    = "in_place"
}

rule "Terminal shell in container" {
  output {
    prefix  = "NEW SHELL!!!"
    include = ["user_id=%user.uid", "repo=%container.image.repository"]
  }
  priority = "NOTICE"
  enabled  = node.labels.env != "dev"
}
