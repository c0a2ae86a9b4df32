# Tuning beyond outputs: a macro, a rule's condition, tags and desc.
falco {
  falco_version = "0.32.1"
}

macro "user_expected_terminal_shell_in_container_conditions" {
  condition {
    replace = "container.image.repository in (team_debug_images)"
  }
}

macro "spawned_process" {
  condition {
    append = "and not proc.pname = 'my.tool' and fd.name != /var/run/docker.sock and container.image.repository != docker.io/nginx"
  }
}

rule "Terminal shell in container" {
  condition {
    append = "and not (proc.name = sh and proc.aname[2] = sshd and evt.arg.flags contains O_TMPFILE)"
  }
  tags {
    add    = ["team_x"]
    remove = ["mitre_execution"]
  }
  desc = "A shell in a container; the team's images are expected to open one."
}

rule "Write below etc" {
  tags {
    items = ["filesystem"]
  }
}

macro "dev_only" {
  when = node.labels.env == "dev"
  condition {
    append = "and proc.name = x"
  }
}
