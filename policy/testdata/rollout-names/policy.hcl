rollout {
  waves = ["canary", "2", "canary", " rest"]
  delay = "-5m"
}
