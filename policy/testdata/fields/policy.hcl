falco {
  falco_version = "0.32.1"
}

rule "Terminal shell in container" {
  output {
    prefix  = "NEW SHELL!!! %proc.aname[2] %evt.arg.fd 100% %%s"
    include = ["user_id=%user.uidd", "repo=%container.image.repository", "path=%fs.path.name"]
  }
}

rule "Write below etc" {
  output {
    replace = "File below /etc opened (user=%usr.name command=%proc.cmdline file=%fd.name) %container.info"
  }
}

rule "Escaped" {
  output {
    include = ["x=\t%proc.nme"]
  }
}
