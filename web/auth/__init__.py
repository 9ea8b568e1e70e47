"""The service's login, built on the OpenID Connect protocol in ``idporten``:
the login and logout routes (``routes``), server-side sessions
(``sessions``, ``models``), the patient behind a login (``patients``) and
a staff member's role and clinics (``staff``, ``roles``), what views call to
know who is logged in (``access``), and the local test provider as this
service mounts it (``local``)."""
