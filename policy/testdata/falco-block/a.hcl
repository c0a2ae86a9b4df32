falco {
  config        = "falco.yaml"
  strategy      = "inplace"
  falco_version = "0.32"
}
