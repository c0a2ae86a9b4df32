rule "Terminal shell in container" {
  when = node.os == "debian"
}
