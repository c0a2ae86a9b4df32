falco {
  falco_version = "0.32.1"
}

macro "spawned_process" {
  condition {
    append  = "and not proc.name = sh"
    replace = "evt.type = execve"
  }
}

macro "container" {
  condition {
  }
}

macro "spawned_process" {
}

macro "" {
}

macro "typo_fields" {
  condition {
    replace = "proc.nme = sh and container.imge.repository = 'proc.nope' and usr.name = x and proc.name = a.b"
  }
}

macro "no_operator" {
  condition {
    append = "not proc.name = sh"
  }
}

macro "twice" {
  condition {
    append = "and proc.name = sh"
  }
  condition {
    append = "and proc.name = bash"
  }
}

rule "Terminal shell in container" {
  condition {
    append = " "
  }
  tags {
    items = ["a"]
    add   = ["b"]
  }
  tags {
    remove = ["c"]
  }
  desc = ""
}

rule "Write below etc" {
  tags {
    add    = ["x", "", "x"]
    remove = ["x"]
  }
}

rule "Read sensitive file untrusted" {
  tags {
  }
}
