rule "Empty block" {
  output {
  }
}

rule "Only empty strings" {
  output {
    prefix  = ""
    include = []
  }
}

rule "Replace and parts" {
  output {
    replace = "Shell (user=%user.name)"
    prefix  = "NEW SHELL!!!"
    exclude = ["user_loginuid=%user.loginuid"]
  }
}

rule "Empty replace" {
  output {
    replace = " "
  }
}

rule "Contradicting tokens" {
  output {
    prefix  = "NEW SHELL!!! user=%user.name"
    include = ["user_id=%user.uid", "", "user_id=%user.uid"]
    exclude = ["user_id=%user.uid", "user=%user.name", "a b", "x", "x"]
  }
}
