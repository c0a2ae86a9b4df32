rollout {
  waves      = 2.5
  wave_label = ""
  paused     = "maybe"
  gate {
    prometheus = "prometheus:9090"
    query      = "up{job=\"{{comit}}\"}"
    threshold  = 0
    on_error   = "procede"
    timeout    = "2m"
  }
  gate {
    prometheus = "http://p:9090"
    query      = "up"
    threshold  = 1
  }
}
