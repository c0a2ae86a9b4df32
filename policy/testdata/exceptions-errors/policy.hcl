rule "Terminal shell in container" {
  exception "typos" {
    fields = ["proc.nme", "container.image.repo"]
    comps  = ["=", "startwith"]
    values = [["sh", "nginx"]]
  }
  exception "lengths" {
    fields = ["proc.name", "proc.pname"]
    comps  = ["="]
    values = [["sh"], ["sh", "runc", "x"], "sh"]
  }
  exception "list_for_eq" {
    fields = ["proc.name"]
    values = [[["sh", "bash"]], [""], [[]]]
  }
  exception "newer" {
    fields = ["proc.name"]
    comps  = ["regex"]
    values = [["s.*"]]
  }
  exception "values_only" {
    comps  = ["in"]
    values = [["a"], ["a", "b"]]
  }
  exception "typos" {
    values = [["x"]]
  }
  exception "" {
    values = [["x"]]
  }
  exception "no_values" {
    fields = ["proc.name"]
    values = []
  }
  exception "types" {
    fields = ["proc.name", "proc.pid", "proc.pname"]
    comps  = ["<", ">=", "bstartswith"]
    values = [["a", "100", "b"]]
  }
  exception "missing" {
    fields = ["proc.name"]
  }
}
