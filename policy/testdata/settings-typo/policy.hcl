falco_settings {
  json_ouput = true
}
