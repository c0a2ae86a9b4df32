falco_settings {
  json_output   = "sometimes"
  priority      = "warnnig"
  append_output = ["user_id=%user.uidd", "", "user_id=%user.uidd", "x\u0001"]
}
