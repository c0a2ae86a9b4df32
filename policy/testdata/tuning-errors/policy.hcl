list "shell_binaries" {
  items  = ["bash"]
  add    = ["fish"]
  remove = ["sh"]
}

list "dups" {
  remove = ["sh", "", "sh", "a\nb"]
}

list "shell_binaries" {
  add = ["x"]
}

list "ssh_binaries" {
  add    = ["scp"]
  remove = ["scp"]
}

list "" {
  add = ["x"]
}

list "nothing" {
}

file "/etc/falco/rules.d/60-team.yaml" {
  source = "../secrets.yaml"
}

file "/etc/falco/rules.d/61-team.yaml" {
  source = "/etc/shadow"
}

file "/etc/falco/rules.d/62-team.yaml" {
  source = "rules/missing.yaml"
}

file "rules.d/63-team.yaml" {
  source = "rules/ok.yaml"
}

file "/etc/falco/rules.d/64-team.txt" {
  source = "rules/ok.yaml"
}

file "/etc/falco/rules.d/../65-team.yaml" {
  source = "rules/ok.yaml"
}

file "/etc/falco/rules.d/66-team.yaml" {
}

file "/etc/falco/rules.d/67-team.yaml" {
  source = "rules/link.yaml"
}
