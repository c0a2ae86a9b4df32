rollout {
  waves = length(node.labels)
  delay = "10m"
}
