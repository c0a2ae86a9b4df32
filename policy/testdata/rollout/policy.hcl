rule "Terminal shell in container" {
  priority = "NOTICE"
}

rollout {
  waves      = ["canary", "early", "rest"]
  delay      = "30m"
  wave_label = "rollout/wave"
  paused     = false
  gate {
    prometheus = "http://prometheus:9090/"
    query      = "sum(rulekeeper_rollback_commit_info{commit=\"{{commit}}\"}) or vector(0)"
    threshold  = 0
  }
}
