falco_settings {
}
