rule "Terminal shell in container" {
  when = node.labels.env != "dev"
  output {
    prefix = "NEW SHELL!!!"
  }
}

rule "Write below etc" {
  when     = contains(["prod", "staging"], node.labels.env)
  priority = upper(lookup(node.labels, "etc_priority", "error"))
  enabled  = startswith(node.hostname, "web-")
  output {
    prefix  = format("[%s]", node.hostname)
    include = [for k in ["env"] : "${k}=${node.labels[k]}"]
  }
}

falco {
  strategy = node.os == "debian" ? "in_place" : "override"
}
