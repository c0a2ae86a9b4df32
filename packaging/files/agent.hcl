# rulekeeper agent configuration, read by `rulekeeper run`.
#
# The agent starts once a policy source is set: uncomment the source block,
# give your policy repository, then
#   systemctl restart rulekeeper        (without systemd: service rulekeeper restart)
# Package upgrades keep your edits to this file.

# The git repository holding the policy (*.hcl files).
# source {
#   url      = "https://git.example.com/security/falco-policy.git"
#   branch   = "main"
#   path     = "."      # folder of the policy inside the repository
#   interval = "30s"    # how often to look for a new commit
#   splay    = "10s"    # each node polls at its own offset below this, so a fleet does not poll at once
#
#   # HTTPS credentials (keep the file 0600, under /etc/rulekeeper):
#   # username      = "git"
#   # password_file = "/etc/rulekeeper/git-token"
#
#   # or SSH (the server's host key is always checked):
#   # ssh_key_file     = "/etc/rulekeeper/id_ed25519"
#   # known_hosts_file = "/etc/rulekeeper/known_hosts"
#
#   # Apply only commits signed by these keys:
#   # verify {
#   #   keyring = "/etc/rulekeeper/policy-signers.asc"
#   # }
# }

# What to do when a managed value is edited by hand: "restore" puts it back,
# "alert" only reports it.
# drift {
#   mode = "restore"
# }

# Prometheus /metrics and /healthz.
# metrics {
#   listen = "127.0.0.1:9464"
# }

# Node facts for policy expressions: node.labels.env and so on.
# node {
#   labels = {
#     env  = "prod"
#     role = "worker"
#   }
# }

# How to reload Falco: auto, watch, systemd, sysv, signal or none.
# falco {
#   reload = "auto"
# }

# Where rulekeeper keeps the vendor's original values and its status.
# state_dir = "/var/lib/rulekeeper"
