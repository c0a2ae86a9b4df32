# The exam's prefix with %proc.aargs, a field of the newest Falco that Falco 0.40.0 does not
# know. On a node whose Falco is really 0.40.0, with its own file watch on and no falco binary
# to check the files first, Falco refuses the change by itself (hot restart failure) and keeps
# running its previous rules: rulekeeper must put the previous files back.
falco {
  strategy      = "in_place"
  falco_version = "0.44.1"
}

rule "Terminal shell in container" {
  output {
    prefix = "NEW SHELL!!! args=%proc.aargs"
  }
}
