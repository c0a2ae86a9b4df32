# A team's tuning: its images are expected to open shells, and it ships
# rules of its own.
list "shell_binaries" {
  add    = ["fish"]
  remove = ["sh"]
}

list "user_known_shell_images" {
  items = ["quay.io/team/debug", "yes"]
}

list "prod_only" {
  when = node.labels.env == "dev"
  add  = ["x"]
}

file "/etc/falco/rules.d/60-team.yaml" {
  source = "rules/60-team.yaml"
}
