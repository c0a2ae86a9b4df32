falco_settings {
  priority      = "notice"
  append_output = ["user_id=%user.uid"]
}
