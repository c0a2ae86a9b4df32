falco_settings {
  json_output   = true
  priority      = "warning"
  append_output = ["user_id=%user.uid", "repo=%container.image.repository"]
}
