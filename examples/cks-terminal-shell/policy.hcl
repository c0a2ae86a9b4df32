# The CKS exam task, declared once for a whole fleet: the output of the rule
# "Terminal shell in container" starts with NEW SHELL!!! and includes the
# user id and the image repository. in_place edits falco_rules.yaml itself,
# as the exam does.
falco {
  strategy = "in_place"
}

rule "Terminal shell in container" {
  output {
    prefix  = "NEW SHELL!!!"
    include = ["user_id=%user.uid", "repo=%container.image.repository"]
  }
}
