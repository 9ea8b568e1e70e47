"""National registers other than ID-porten: the population register (Norsk
helsenett's Person API) behind the ports the application asks, and fakes of
them that speak the real wire protocol on loopback."""
