"""Local stand-ins for the outside services the notification channels talk
to (Twilio, HelseID + Helsenorge, Maskinporten + KRR), speaking their wire
protocols on loopback. For tests, benchmarks and ``make run``; never for
production."""
