"""The OpenID Connect protocol as ID-porten and the counties' staff identity
providers speak it (client, ID-token validation, provider metadata, levels of
assurance, safe redirects), and a local test provider. Knows nothing of the
application: ``web.auth`` builds the login on it."""
