# A team's tuning, for a fleet whose nodes run different Falco versions
# (0.32.1 to 0.44.1 alike). strategy "auto": a drop-in file with
# `override:` entries from Falco 0.37, an edit of the vendor's file before.
falco {
  strategy = "auto"
}

# The payments team's node agent runs privileged on purpose: "Launch
# Privileged Container" leaves its image alone.
list "falco_privileged_images" {
  add = ["registry.example.com/payments/node-agent"]
}

# The payments team's debug image opens shells on purpose: "Terminal shell
# in container" leaves sh and bash in it alone (an exception, as Falco
# recommends for tuning: in the vendor's rule before 0.37, a drop-in after).
rule "Terminal shell in container" {
  exception "payments_debug" {
    fields = ["container.image.repository", "proc.name"]
    comps  = ["=", "in"]
    values = [["registry.example.com/payments/debug", ["sh", "bash"]]]
  }
}

# The team's own rules, shipped whole from this repository and owned by
# rulekeeper on the node.
file "/etc/falco/rules.d/60-payments.yaml" {
  source = "rules/60-payments.yaml"
}
