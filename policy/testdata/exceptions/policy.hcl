# A team's exceptions: its debug image may open shells, and npm joins the
# writers the vendor's rule already lets through.
rule "Terminal shell in container" {
  exception "payments_debug" {
    fields = ["container.image.repository", "proc.name"]
    comps  = ["=", "in"]
    values = [["registry.example.com/payments/debug", ["sh", "bash"]]]
  }
  exception "team_shells" {
    fields = ["proc.name"]
    values = [["sh"], ["bash"]]
  }
}

rule "Write below binary dir" {
  exception "proc_writer" {
    values = [["/usr/bin/npm", "/usr/local/bin"]]
  }
  exception "dev_only" {
    when   = node.labels.env == "dev"
    fields = ["proc.name"]
    values = [["make"]]
  }
}
