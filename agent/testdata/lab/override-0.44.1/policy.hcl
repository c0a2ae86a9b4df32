# The exam's change, written as `override:` entries for Falco 0.44.1. On a
# node whose Falco is really 0.32.1 (which has no `override:`), and with no
# falco binary to check the files first, Falco does not come back with them:
# rulekeeper must put the previous files back.
falco {
  strategy      = "override"
  falco_version = "0.44.1"
}

rule "Terminal shell in container" {
  output {
    prefix  = "NEW SHELL!!!"
    include = ["user_id=%user.uid", "repo=%container.image.repository"]
  }
}
