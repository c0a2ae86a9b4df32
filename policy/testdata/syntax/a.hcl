rule "Terminal shell in container" {
  output {
    prefix "NEW SHELL!!!"
  }
}
