rollout {
  waves = 1
}
