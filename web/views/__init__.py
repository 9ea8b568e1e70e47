"""Page handlers. Each parses the request, calls one query or service in
``booking``, and renders one template (or one of its blocks)."""
