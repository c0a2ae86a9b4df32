rollout {
  waves = 4
}
